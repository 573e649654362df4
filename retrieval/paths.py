"""Where sourced keeps files by default (per-user folders from platformdirs)."""

from __future__ import annotations

import os
from pathlib import Path

from retrieval.errors import SourcedError

ENV_CACHE_DIR = "SOURCED_CACHE_DIR"


def data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("sourced", appauthor=False))


def cache_dir() -> Path:
    """Rebuildable files (ONNX exports, benchmark indexes): $SOURCED_CACHE_DIR or the user cache."""
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("sourced", appauthor=False))


def bundled_articles() -> Path:
    """The sample collection shipped with sourced."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_bundled" / "articles", here.parent / "data" / "articles"):
        if candidate.is_dir():
            return candidate
    raise SourcedError("The bundled sample articles are missing from this installation; pass a PATH to index.")
