"""`sourced feedback`: what users thought of the bot's answers."""

from __future__ import annotations

import json

import click

from retrieval.cli.context import CliContext
from retrieval.cli.options import collection_options
from retrieval.wiring import state_dir


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@collection_options
@click.pass_obj
def feedback(obj: CliContext, as_json: bool) -> None:
    """Summarise the 👍/👎 feedback users gave the bot's answers."""
    from retrieval.desk.feedback import FeedbackLog, FeedbackSummary

    path = state_dir(obj.config) / "feedback.sqlite"
    if not path.is_file():
        # Nothing recorded yet is an answer, not an error.
        if as_json:
            click.echo(json.dumps(FeedbackSummary(0, 0, 0, 0, []).__dict__))
        else:
            click.echo("No feedback yet: the bot records 👍/👎 on its answers once it runs (`sourced serve`).")
        return
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
