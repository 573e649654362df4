"""The small value objects that flow through the library.

Document -> Chunk -> Hit -> Answer. All are frozen dataclasses so they can be shared
between threads (the bot answers many questions at once) without copying.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


def stable_hash(*parts: str, length: int = 16) -> str:
    """A short, process-independent hex digest of ``parts`` (used for ids)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()[:length]


@dataclass(frozen=True, slots=True)
class Document:
    """One article, cleaned and ready to chunk.

    ``id`` identifies the article (its normalised URL, else where it came from) and
    stays the same when the text changes; ``content_hash`` changes with any
    reader-visible field, so incremental indexing can tell what changed.
    """

    id: str
    title: str
    text: str
    url: str | None = None
    outlet: str | None = None
    published: datetime | None = None
    source: str = ""
    parent_id: str | None = None
    topics: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        return stable_hash(
            self.title,
            self.text,
            self.url or "",
            self.outlet or "",
            self.published.isoformat() if self.published else "",
            self.source,
            self.parent_id or "",
            "|".join(self.topics),
        )

    @property
    def display_source(self) -> str:
        """What to show as the source: the link when there is one, else where it came from."""
        return self.url or self.source


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of whole sentences from one document: ``doc.text[start:end] == text``."""

    doc_id: str
    ordinal: int
    text: str
    start: int
    end: int

    @property
    def id(self) -> str:
        return f"{self.doc_id}-{self.ordinal}"


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk returned for a question, with the document it came from."""

    chunk: Chunk
    document: Document
    score: float
    rank: int

    @property
    def text(self) -> str:
        return self.chunk.text


@dataclass(frozen=True, slots=True)
class Answer:
    """What a question gets: ranked hits, and whether they are good enough to count."""

    question: str
    hits: tuple[Hit, ...]
    answered: bool
    took_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file (or part of one) that could not be read, and why, in words for a user."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReadResult:
    """Everything read from a set of paths: the documents and what was skipped."""

    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...] = ()
    files_read: int = 0
    merged: int = field(default=0)
