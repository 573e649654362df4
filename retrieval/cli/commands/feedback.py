"""`sourced feedback`: what users thought of the bot's answers."""

from __future__ import annotations

import json

import click

from retrieval.cli.context import CliContext, fail
from retrieval.wiring import state_dir


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def feedback(obj: CliContext, as_json: bool) -> None:
    """Summarise the 👍/👎 feedback users gave the bot's answers."""
    from retrieval.desk.feedback import FeedbackLog

    path = state_dir(obj.config) / "feedback.sqlite"
    if not path.is_file():
        fail(f"No feedback recorded yet ({path} does not exist). Run the bot with `sourced serve`.")
    summary = FeedbackLog(path).summary()
    if as_json:
        click.echo(json.dumps(summary.__dict__, ensure_ascii=False))
        return
    rated = summary.up + summary.down
    share = f"{summary.up / rated:.0%} helpful" if rated else "no votes yet"
    click.echo(
        f"{summary.questions} questions asked, {summary.answered} answered; "
        f"{summary.up} 👍 / {summary.down} 👎 ({share})."
    )
    if summary.worst:
        click.echo("Most disliked answers:")
        for question, up, down in summary.worst:
            click.echo(f"  {down} 👎 {up} 👍  {question}")
