"""The collection: the registered sources an index is made of, and their sync state.

A source is a folder, a file, or a web address: a page, a feed or a sitemap. The
registry lives in each generation's manifest, so ``sourced rollback`` restores it with
the documents; what the last sync of each source found (when, problems) is advisory and
kept beside the generations in ``sources-state.json``, so a sync that changes nothing
writes no generation.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATE = "sources-state.json"
KINDS = ("folder", "file", "page", "feed", "sitemap", "documents")  # "documents": made in code
WEB_KINDS = ("page", "feed", "sitemap")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def is_web(key: str | os.PathLike[str]) -> bool:
    """Whether a source is a web address (a page, feed or sitemap) rather than a path."""
    from retrieval.ingest.web import is_url

    return is_url(str(key))


def source_key(path: str | os.PathLike[str]) -> str:
    """The name a source is registered under: a file's or folder's absolute path, a web
    address in its normalised form."""
    if is_web(path):
        from retrieval.ingest.readers.fields import normalize_url

        return normalize_url(str(path))
    try:
        return str(Path(path).expanduser().absolute())
    except RuntimeError:  # "~nobody/news": no such user's home folder
        from retrieval.errors import SourcedError

        raise SourcedError(f"{path}: no such user's home folder to expand.") from None


@dataclass(frozen=True)
class Source:
    """One registered source, as kept in the manifest.

    An article two sources hold (a story a feed and a sitemap both list, a file inside a
    registered folder registered on its own too) is indexed once, under the source that
    brought it first. ``also`` names the articles this source holds that way, so that
    removing the other source hands them over instead of deleting them: each command
    changes only what it names. Kept in the manifest, so a rollback restores it."""

    key: str  # absolute path (or a label for documents made in code)
    kind: str
    added: str
    also: tuple[str, ...] = ()  # ids of articles it holds that are indexed under another source
    samples: bool = False  # the bundled samples, registered unasked by a new collection's first build

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.also:
            del data["also"]  # manifests without shared articles stay as they were
        else:
            data["also"] = list(self.also)
        if not self.samples:
            del data["samples"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Source:
        also = data.get("also")
        return cls(
            str(data["key"]),
            str(data.get("kind", "folder")),
            str(data.get("added", "")),
            tuple(str(x) for x in also) if isinstance(also, list) else (),
            bool(data.get("samples", False)),
        )


@dataclass(frozen=True)
class SourceState:
    """What the last sync of a source found (advisory: not part of a generation)."""

    last_sync: str | None = None
    problem: str | None = None


def read_state(index_dir: Path) -> dict[str, SourceState]:
    try:
        data = json.loads((index_dir / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: SourceState(v.get("last_sync"), v.get("problem")) for k, v in data.items() if isinstance(v, dict)}


def write_state(index_dir: Path, state: dict[str, SourceState]) -> None:
    """Replace the state file atomically (a torn write would only lose advisory facts)."""
    tmp = index_dir / f".{STATE}.tmp"
    tmp.write_text(json.dumps({k: asdict(v) for k, v in state.items()}, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, index_dir / STATE)


def kind_of(path: Path) -> str:
    return "file" if path.is_file() else "folder"


def unreadable_reason(path: Path) -> str | None:
    """Why a registered file or folder cannot be read at all right now, or None."""
    if path.is_symlink() and not path.exists():
        return "broken symbolic link"
    if not path.exists():
        return "no such file or folder"
    if not (path.is_dir() or path.is_file()):  # a FIFO, a device (/dev/zero), a socket
        return "not a regular file or folder"
    try:
        if path.is_dir():
            os.listdir(path)
        else:
            # Non-blocking: opening a FIFO would wait for a writer, holding the writer lock.
            os.close(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)))
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    return None


def with_sync(state: dict[str, SourceState], key: str, problem: str | None) -> dict[str, SourceState]:
    return {**state, key: replace(state.get(key, SourceState()), last_sync=now(), problem=problem)}


def samples_key() -> str | None:
    """The key the bundled sample articles are registered under (None when not installed)."""
    from retrieval.errors import SourcedError
    from retrieval.paths import bundled_articles

    try:
        return source_key(bundled_articles())
    except SourcedError:
        return None
