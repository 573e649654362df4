"""`sourced serve`: the Discord bot's command, added to the CLI through the
``sourced.commands`` entry point (so ``retrieval`` never imports ``bot``).

discord.py is imported only when the command runs, so `sourced --help` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from retrieval.cli.context import CliContext, fail, open_service, state_dir
from retrieval.cli.options import index_dir_option
from retrieval.cli.progress import LineProgress

TOKEN_HELP = (
    "Create a bot at https://discord.com/developers/applications (Bot > Reset Token), then run "
    "`export DISCORD_TOKEN=...` or put DISCORD_TOKEN=... in a .env file in this folder."
)


def _discord_token() -> str | None:
    token = os.environ.get("DISCORD_TOKEN")
    if not token:
        from dotenv import dotenv_values

        token = dotenv_values(Path.cwd() / ".env").get("DISCORD_TOKEN")
    return token.strip() if token and token.strip() else None


@click.command()
@index_dir_option
@click.pass_obj
def serve(obj: CliContext, index_dir: Path | None) -> None:
    """Run the Discord bot (needs DISCORD_TOKEN in the environment or a .env file)."""
    import logging

    token = _discord_token()
    if not token:
        fail(f"DISCORD_TOKEN is not set. {TOKEN_HELP}")
    config = obj.config
    service = open_service(config, index_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.app import serve as serve_bot
    from retrieval.feedback import FeedbackStore
    from retrieval.indexer import Indexer

    def reindex(progress):
        return Indexer(config, service.store, service.embedder).run((), progress=LineProgress(progress))

    store = FeedbackStore(state_dir(config) / "feedback.sqlite")
    serve_bot(
        service, config.bot, store, reindex, token, token_help=TOKEN_HELP, refresh_minutes=config.web.refresh_minutes
    )
