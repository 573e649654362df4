"""`sourced serve`: the Discord bot's command, added to the CLI through the
``sourced.commands`` entry point (so ``retrieval`` never imports ``bot``).

discord.py is imported only when the command runs, so `sourced --help` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from retrieval.cli.context import CliContext, fail, run_index
from retrieval.cli.options import collection_options, index_dir_option
from retrieval.cli.render import console
from retrieval.wiring import state_dir

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


def open_desks(config, index_dir: Path | None) -> dict:
    """A desk for the default collection and each one ``bot.collections`` names, sharing one
    embedder (one model in memory, whatever the number of communities). A named collection
    that does not exist yet starts empty: /add fills it."""
    import threading

    from bot.context import Desk
    from retrieval.desk.follows import FILE, Follows
    from retrieval.embedding import configured_embedder
    from retrieval.wiring import open_collection

    lock = threading.Lock()
    shared: list = []

    def embedder():
        with lock:
            if not shared:
                shared.append(configured_embedder(config.embedding))
            return shared[0]

    desks = {}
    for name in sorted({"default", *config.bot.collections.values()}):
        # the default collection is built on first use and upgraded once, as `sourced ask` does
        opened = open_collection(
            config,
            name,
            index_dir if name == "default" else None,
            create=True,
            embedder=embedder,
            public_web_only=not config.bot.allow_private_urls,
            say=console().print,
            sync=lambda c, f: run_index(c, f, ()),
        )
        desks[name] = Desk(name, opened.service, indexer=opened.indexer, follows=Follows(opened.folder / FILE))
    return desks


@click.command()
@index_dir_option
@collection_options
@click.pass_obj
def serve(obj: CliContext, index_dir: Path | None) -> None:
    """Run the Discord bot (needs DISCORD_TOKEN in the environment or a .env file)."""
    import logging

    token = _discord_token()
    if not token:
        fail(f"DISCORD_TOKEN is not set. {TOKEN_HELP}")
    config = obj.config
    desks = open_desks(config, index_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.app import serve as serve_bot
    from retrieval.desk.feedback import FeedbackLog

    default = desks["default"]
    feedback = FeedbackLog(state_dir(config) / "feedback.sqlite")
    serve_bot(
        default.service,
        config.bot,
        feedback,
        default.reindex,  # /reindex and the scheduled refresh: the same sync as `sourced index`
        token,
        token_help=TOKEN_HELP,
        refresh_minutes=config.web.refresh_minutes,
        desks=desks,
    )
