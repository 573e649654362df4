"""What a sync tells its caller: per source what happened, and the whole sync's counts.

Adapters print these (the CLI's report, the bot's /reindex and /add replies); nothing
here decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import SourcedError
from retrieval.ingest.readers import Problem


class SourceError(SourcedError):
    """A source named on the command line cannot be added or removed (the message says why)."""


@dataclass(frozen=True)
class SourceReport:
    """What one sync did with one source."""

    key: str
    kind: str
    status: str  # "synced", "added", "removed", "unreadable", "duplicate", "deferred" (left for the next sync)
    articles: int = 0  # held from this source after the sync
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    reason: str | None = None  # why it could not be read
    kept: int = 0  # removed: its articles that stay because another source holds them
    listed: int | None = None  # items its feed or sitemap listed this time (0: an empty feed)
    samples: bool = False  # the bundled sample articles (removed: they made way for the user's own)


@dataclass(frozen=True)
class IndexReport:
    """What one `sourced index` / `add` / `remove` run did."""

    index_dir: Path
    documents: int
    chunks: int
    added: int
    updated: int
    removed: int
    unchanged: int
    chunks_embedded: int
    files_read: int
    merged: int
    problems: tuple[Problem, ...]
    written: bool
    seconds: float
    sentences_embedded: int = 0
    sources: tuple[SourceReport, ...] = ()
    segments: int = 0
    # Articles this run brought that the previous generation did not hold (a rebuild of
    # what was there brings none): what alerts are matched against.
    new_ids: tuple[str, ...] = ()
    where: str = ""  # the index folder, or the database (without its password) and schema

    @property
    def skipped(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.skipped)

    @property
    def unreadable(self) -> tuple[SourceReport, ...]:
        return tuple(s for s in self.sources if s.status == "unreadable")
