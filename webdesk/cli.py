"""`sourced web`: the web desk's command, added to the CLI through the ``sourced.commands``
entry point (so ``retrieval`` never imports ``webdesk``).

Starlette and uvicorn are imported only when the command runs, so `sourced --help` stays fast.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from retrieval.cli.context import CliContext, fail
from retrieval.cli.options import index_dir_option

from .wiring import open_collection

MISSING_EXTRA = "The web desk needs the `web` extra: pip install 'sourced[web]' (or scripts/setup dev,web)."


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option(
    "--collection",
    metavar="NAME",
    help="Answer from the named collection (same as `sourced --collection NAME web`).",
)
@click.option(
    "--root-path",
    metavar="PREFIX",
    help="Path prefix a reverse proxy serves the desk under, e.g. /desk (default: web_desk.root_path).",
)
@index_dir_option
@click.pass_obj
def web(
    obj: CliContext, host: str, port: int, collection: str | None, root_path: str | None, index_dir: Path | None
) -> None:
    """Serve the web desk: a search page at / and a read-only HTTP API (/api/ask, /api/sources, /healthz)."""
    import logging

    try:
        import uvicorn

        from .app import create_app
    except ImportError:
        fail(MISSING_EXTRA)
    config = obj.config
    if collection:
        from retrieval.desk.collections import check_name

        config = dataclasses.replace(config, collection=check_name(collection))
    prefix = config.web_desk.root_path if root_path is None else root_path.rstrip("/")
    if prefix and not prefix.startswith("/"):
        fail(f"--root-path {root_path!r} must start with / (e.g. /desk).")
    service = open_collection(config, index_dir)
    service.snapshot()  # a missing or mismatched index fails here, in one line, not at the first question
    app = create_app(service, config, config.collection)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss").setLevel(logging.WARNING)  # which CPU build it loads, on every start
    click.echo(f"sourced web: the desk for collection '{config.collection}' on http://{host}:{port}{prefix}/", err=True)
    # proxy_headers off: uvicorn would otherwise take the client's address from
    # X-Forwarded-For sent by 127.0.0.1; the desk trusts it only with web_desk.trust_forwarded_for.
    uvicorn.run(
        app,
        host=host,
        port=port,
        root_path=prefix,
        proxy_headers=False,
        server_header=False,
        log_level="info",
    )
