"""`sourced serve`: the Discord bot's command, added to the CLI through the
``sourced.commands`` entry point (so ``retrieval`` never imports ``bot``).

discord.py is imported only when the command runs, so `sourced --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from retrieval.cli.context import CliContext, fail, run_index
from retrieval.cli.options import collection_options, index_dir_option
from retrieval.cli.render import console
from retrieval.wiring import state_dir

TOKEN_HELP = (
    "Create a bot at https://discord.com/developers/applications (Bot > Reset Token), then run "
    "`export DISCORD_TOKEN=...` or put DISCORD_TOKEN=... in a .env file in this folder, the config "
    "file's folder or the project folder."
)


def _discord_token(config_file: Path | None = None) -> str | None:
    from bot.setup_check import find_token

    return find_token(config_file)[0]


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
@click.option(
    "--check",
    is_flag=True,
    help="Check the set-up without connecting: the token's shape, the bot.* ids, the collections and "
    "the permissions to invite it with; one line per problem, exit 1 if any.",
)
@click.pass_obj
def serve(obj: CliContext, index_dir: Path | None, check: bool) -> None:
    """Run the Discord bot. It needs DISCORD_TOKEN: in the environment, or DISCORD_TOKEN=...
    in a .env file in the current folder, the config file's folder or the project folder.

    The bot.* settings say where it answers and how (bot.allowed_guilds,
    bot.allowed_channels, bot.collections, bot.cooldown_seconds, bot.results_per_page,
    bot.threads, bot.dev_guild, bot.alerts_per_hour, ...): `sourced config` lists them with
    their values and what each does; set them in the file given with --config. Try
    `sourced serve --check` before going live.
    """
    import logging

    config = obj.config
    if check:
        _check(config, index_dir)
        return
    token = _discord_token(config.file)
    if not token:
        fail(f"DISCORD_TOKEN is not set. {TOKEN_HELP}")
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


def _check(config, index_dir: Path | None) -> None:
    """`serve --check`: what is fine on stdout, one line per problem on stderr, exit 1 if any."""
    import sys

    from bot.setup_check import check_setup

    result = check_setup(config, index_dir)
    for note in result.notes:
        click.echo(f"ok: {note}")
    for problem in result.problems:
        click.echo(f"problem: {problem}", err=True)
    if result.problems:
        sys.exit(1)
    click.echo("The set-up looks right; `sourced serve` starts the bot.")
