"""The small value objects that flow through the library.

Document -> Chunk -> Hit -> Answer. All are frozen dataclasses so they can be shared
between threads (the bot answers many questions at once) without copying.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.query.answerable import Signals


def stable_hash(*parts: str, length: int = 16) -> str:
    """A short, process-independent hex digest of ``parts`` (used for ids)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()[:length]


def newer_label(doc: Document) -> str:
    """ "Outlet, date" of a newer article ("newer coverage"); one with no outlet is named
    by its title."""
    name = doc.outlet or f"“{doc.title}”"
    return ", ".join(x for x in (name, doc.published.date().isoformat() if doc.published else None) if x)


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
    """A chunk returned for a question, with the document it came from.

    ``score`` ranks hits (its scale depends on the search mode); ``similarity`` is the
    cosine similarity between question and passage, comparable across questions.
    ``highlight_start/end`` locate the best-answering sentence inside ``text``;
    ``sentence_similarity`` is the cosine similarity of the closest sentence shown.
    ``strength`` and ``label`` are what people are shown: see :mod:`retrieval.query.strength`.
    """

    chunk: Chunk
    document: Document
    score: float
    rank: int
    similarity: float = 0.0
    highlight_start: int | None = None
    highlight_end: int | None = None
    more_in_document: int = 0
    duplicates: tuple[Document, ...] = ()
    sentence_similarity: float = 0.0
    # One figure that agrees with the order (the fused score rescaled to what decided the
    # verdict: the answer's support, or its confidence under the cosine rule) and its word:
    # "strong", "fair" or "weak" (retrieval.query.strength).
    strength: float = 0.0
    label: str = ""
    # An article published after this one that also answers (its passage at or above
    # search.min_score): "newer coverage". The older answer stays: it may be the one asked for.
    newer: Document | None = None
    # The rank at which that newer article is itself shown in this answer, when it is (the
    # reader is pointed at it rather than sent away).
    newer_rank: int | None = None

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def highlight(self) -> str | None:
        if self.highlight_start is None or self.highlight_end is None:
            return None
        return self.chunk.text[self.highlight_start : self.highlight_end]


def reported_by(documents: tuple[Document, ...] | list[Document]) -> str:
    """ "Outlet (date), …" for the other copies of a story; an article with no outlet is
    named by its title."""
    names = []
    for doc in documents:
        name = doc.outlet or f"“{doc.title}”"
        if doc.published:
            name += f" ({doc.published.date().isoformat()})"
        names.append(name)
    return ", ".join(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class Answer:
    """What a question gets: ranked hits, and whether they are good enough to count."""

    question: str
    hits: tuple[Hit, ...]
    answered: bool
    took_ms: float = 0.0
    # Cosine similarity of the closest passage or sentence *shown*: what `answered` is decided on.
    confidence: float = 0.0
    # IDF-weighted share of the question's specific terms (names, numbers, words no passage
    # holds) found in one of the first three passages shown; None when it names nothing
    # specific. With `search.answer_terms`, also what `answered` is decided on.
    evidence: float | None = None
    # The day taken as today (nothing published after it is shown), when one was given.
    as_of: datetime | None = None
    # The publication dates searched (until: exclusive), from the filters and the question.
    since: datetime | None = None
    until: datetime | None = None
    # What was read from the question about time, as shown ("since 2024-05-01, from “last week”").
    understood: str | None = None
    # The dates the question's time words ("in 2018", "last week") make, within any
    # filter's, as (since, until exclusive); None when it names no time. And whether they
    # were searched, or gave way to all dates (or the filters' dates): nothing in them answered.
    question_dates: tuple[datetime | None, datetime | None] | None = None
    question_dates_searched: bool = False
    # When no article at all is within the filters set (dates, outlet, source, as-of): what
    # they were ("since 2030-01-01; outlet “Nonexistent”"). Nothing was searched, which
    # is not "nothing matches the question".
    excluded: str | None = None
    # How likely what is shown answers (0..1): the answer model's probability
    # (retrieval.query.answerable; `answered` is support >= its threshold, or every name
    # shown), or the answer re-ranker's score when that stage is on. None when neither is.
    support: float | None = None
    # What `answered` is weighed on (retrieval.query.answerable.Signals); None with no hits.
    signals: Signals | None = None
    # What decided `answered`: "answer model" (support against its threshold), "names
    # shown" (a name question whose names are all shown), "min_score" (the cosine rule) or
    # "re-ranker"; None with no hits.
    decided_by: str | None = None
