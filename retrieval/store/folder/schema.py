"""What an index holds on disk: the folder layout, the SQLite schema of a segment, row records.

Layout of an index folder::

    CURRENT              name of the live generation (replaced atomically)
    .lock                held by the one process allowed to write
    segments/seg-000003/ immutable segments (see ``segment``): documents, passages, vectors
    gen-000007/          manifest.json: the segments this generation uses, the documents
                         deleted from each, the registered sources and the settings

A write adds a segment (only what is new) and a generation manifest, each built in a
temporary folder and renamed into place, and only then points ``CURRENT`` at the new
generation, so a crash at any moment leaves the previous generation live and whole.
Segments and generations never change once written: readers open them immutable and
notice a new generation by re-reading ``CURRENT``; unchanged segments are shared.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from retrieval.types import Document

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
SEGMENTS = "segments"

SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, url TEXT, outlet TEXT,
    published TEXT, source TEXT NOT NULL, parent_id TEXT, topics TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    origin TEXT NOT NULL  -- the registered source the document was read from
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    embed_hash TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id, ordinal);
CREATE TABLE sentences (
    row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(id),
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, hash TEXT NOT NULL,
    tokens TEXT NOT NULL  -- BM25 tokens, space-separated: word overlap without re-tokenising
);
CREATE INDEX sentences_doc ON sentences(doc_id, start);
"""


def doc_row(doc: Document, origin: str) -> tuple[Any, ...]:
    return (
        doc.id,
        doc.title,
        doc.text,
        doc.url,
        doc.outlet,
        doc.published.isoformat() if doc.published else None,
        doc.source,
        doc.parent_id,
        json.dumps(list(doc.topics)),
        doc.content_hash,
        origin,
    )


def row_doc(row: sqlite3.Row | tuple[Any, ...]) -> Document:
    return Document(
        id=row[0],
        title=row[1],
        text=row[2],
        url=row[3],
        outlet=row[4],
        published=datetime.fromisoformat(row[5]) if row[5] else None,
        source=row[6],
        parent_id=row[7],
        topics=tuple(json.loads(row[8])),
    )


DOC_COLUMNS = "id, title, text, url, outlet, published, source, parent_id, topics"


def like_pattern(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# An outlet a page claimed and its site did not bear out is shown with the site beside it
# ("Reuters (evil.example)", retrieval.ingest.web.sites.outlet_for). `--outlet Reuters`
# means the real one: such names match only a filter that names the suffix too ("(").
CLAIMED_ELSEWHERE = ("% (%.%)", "% (%:%)")
