"""The one place the web desk asks the library for a collection to answer from."""

from __future__ import annotations

from pathlib import Path


def open_collection(config, index_dir: Path | None = None):
    """The read-only :class:`~retrieval.service.QueryService` of ``config.collection`` (or of
    ``index_dir``); its ``collection()`` lists the sources. Every import of library wiring
    is here, so a move of the library's builders is a change of this function only."""
    from retrieval.cli.context import open_service

    return open_service(config, index_dir)
