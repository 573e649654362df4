"""The `sourced` command group: library errors become one line, never a traceback.

Library errors (:class:`~retrieval.errors.SourcedError`) become one line on stderr and a
non-zero exit code. Progress and messages go to stderr, so ``--json`` output on stdout
stays machine-readable. Commands live in ``retrieval.cli.commands``, one module per
subject; other packages add commands through the ``sourced.commands`` entry-point group
(the Discord bot adds ``serve`` that way, so the library never imports the bot).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from retrieval import __version__
from retrieval.cli.commands.ask import ask, eval_cmd, timeline
from retrieval.cli.commands.bench import bench
from retrieval.cli.commands.collections import collections
from retrieval.cli.commands.db import db
from retrieval.cli.commands.feedback import feedback
from retrieval.cli.commands.history import history
from retrieval.cli.commands.index import add, compact, doctor, index, remove, rollback
from retrieval.cli.commands.settings import config_cmd
from retrieval.cli.commands.show import show
from retrieval.cli.commands.sources import sources
from retrieval.cli.context import EXIT_INTERRUPTED, CliContext, fail
from retrieval.errors import SourcedError

PLUGIN_GROUP = "sourced.commands"
# As rich does for its own output (and the Python docs advise): quiet, exit status 1.
EXIT_BROKEN_PIPE = 1


def _quiet_broken_pipe() -> None:
    # The reader went away (`sourced sources | head -1`): say nothing, and point stdout at
    # /dev/null so the interpreter's final flush cannot complain either.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(EXIT_BROKEN_PIPE)


class _Group(click.Group):
    """Turns library errors into one clean line, and loads plugin commands lazily."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SourcedError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            _quiet_broken_pipe()
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("SOURCED_DEBUG"):
                raise
            fail(f"unexpected failure ({type(exc).__name__}: {exc}). Set SOURCED_DEBUG=1 to see details.")

    def _plugins(self) -> dict[str, Any]:
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in (plugins := self._plugins()):
            command = plugins[name].load()
        return command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sourced")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SOURCED_CONFIG",
    help="YAML settings file (see `sourced config`). Env: SOURCED_CONFIG.",
)
@click.option(
    "--collection",
    "collection",
    metavar="NAME",
    envvar="SOURCED_COLLECTION",
    help="Act on the named collection (its own sources and index) instead of the default one. Env: SOURCED_COLLECTION.",
)
@click.option(
    "--store",
    "store",
    metavar="URL",
    envvar="SOURCED_STORE",
    help="Keep the index in PostgreSQL (postgresql://user@host:port/db) instead of a folder. "
    "Env: SOURCED_STORE. Setting: index.store.",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, collection: str | None, store: str | None) -> None:
    """Answers from a collection of news articles, always with their sources."""
    ctx.obj = CliContext(config_path, collection, store)


for _command in (
    index,
    add,
    remove,
    compact,
    rollback,
    history,
    doctor,
    ask,
    timeline,
    eval_cmd,
    sources,
    collections,
    show,
    config_cmd,
    feedback,
    bench,
    db,
):
    main.add_command(_command)
