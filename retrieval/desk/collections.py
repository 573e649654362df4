"""Named collections: each its own sources and index, side by side in one folder.

The default collection is the index folder the settings name (``index.dir``,
``$SOURCED_INDEX_DIR`` or the per-user data folder). A named one lives in
``index.collections_dir`` (default: a ``collections`` folder beside the default index),
one folder per name. A Discord server or channel is mapped to one by ``bot.collections``.
"""

from __future__ import annotations

import re
from pathlib import Path

from retrieval.errors import SourcedError

DEFAULT = "default"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class CollectionNameError(SourcedError):
    """A collection name that cannot be a folder name everywhere."""


def check_name(name: str) -> str:
    """``name`` if it is a valid collection name, else :class:`CollectionNameError`."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise CollectionNameError(
            f"{name!r} is not a collection name: use 1-40 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit."
        )
    return name


def collections_root(default_index: Path, configured: Path | None) -> Path:
    """Where named collections live."""
    return configured if configured is not None else default_index.parent / "collections"


def collection_dir(name: str, default_index: Path, configured: Path | None = None) -> Path:
    """The index folder of collection ``name``."""
    if check_name(name) == DEFAULT:
        return default_index
    return collections_root(default_index, configured) / name


def known_collections(default_index: Path, configured: Path | None = None) -> list[str]:
    """The default collection and every named one that has a folder, sorted."""
    root = collections_root(default_index, configured)
    named = sorted(p.name for p in root.iterdir() if p.is_dir() and _NAME.match(p.name)) if root.is_dir() else []
    return [DEFAULT, *(n for n in named if n != DEFAULT)]
