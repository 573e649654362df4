"""One article by its id, with its passages: what `sourced show` prints."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.errors import NotFoundError
from retrieval.store.base import Snapshot
from retrieval.types import Chunk, Document

MIN_PREFIX = 6  # a shorter start of an id is refused, even when it happens to be unique


@dataclass(frozen=True)
class Article:
    document: Document
    origin: str  # the registered source that holds it
    passages: tuple[Chunk, ...]  # in order


def find_article(snap: Snapshot, doc_id: str) -> Article:
    """The live article whose id is ``doc_id`` or starts with it (at least MIN_PREFIX
    characters, and only one article's). Raises :class:`NotFoundError` otherwise."""
    index = snap.document_index()
    wanted = doc_id.strip().lower()
    if wanted in index:
        found = [wanted]
    elif len(wanted) >= MIN_PREFIX:
        found = sorted(i for i in index if i.startswith(wanted))
    else:
        found = []
    if len(found) > 1:
        raise NotFoundError(f"{doc_id!r} is the start of {len(found)} article ids; give more of it.")
    if not found:
        shown = doc_id if len(doc_id) <= 40 else doc_id[:40] + "…"  # one line, whatever was pasted
        short = f"; give at least {MIN_PREFIX} characters of it" if len(wanted) < MIN_PREFIX else ""
        raise NotFoundError(
            f"No article with id {shown!r} in this collection{short} (ids are in `sourced ask --json` and "
            "`sourced sources --json`)."
        )
    (doc,) = snap.documents(found)
    rows = [int(r) for r in snap.rows_of_documents(found)]
    chunks = sorted((chunk for chunk, _ in snap.chunks(rows).values()), key=lambda c: c.ordinal)
    return Article(doc, index[doc.id][1], tuple(chunks))
