"""The one place the web desk asks the library for a collection to answer from."""

from __future__ import annotations

import sys
from pathlib import Path


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def open_collection(config, index_dir: Path | None = None):
    """The read-only :class:`~retrieval.query.service.QueryService` of ``config.collection`` (or of
    ``index_dir``); its ``collection()`` lists the sources. The default collection is built
    on first use, as `sourced ask` does, saying so on stderr."""
    from retrieval.wiring import open_collection as wired

    return wired(config, index_dir=index_dir, say=_say).service
