"""The reader side: one immutable generation of the index, searched from many threads."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval import vectors as vector_index
from retrieval.errors import IndexMismatchError, IndexMissingError
from retrieval.lexical import LEXICAL_DIR, LexicalIndex
from retrieval.types import Chunk, Document

from .schema import (
    DOC_COLUMNS,
    EMBEDDINGS,
    FORMAT_VERSION,
    MANIFEST,
    META,
    SENTENCE_VECTORS,
    VECTORS,
    ChunkRecord,
    SentenceRecord,
    like_pattern,
    row_doc,
)

if TYPE_CHECKING:
    import numpy as np


class Snapshot:
    """One immutable generation of the index, safe to search from many threads."""

    def __init__(self, path: Path, check_version: bool = True) -> None:
        self.path = path
        try:
            self.manifest: dict[str, Any] = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexMissingError(f"The index at {path.parent} is damaged (manifest unreadable: {exc}).") from None
        if check_version and self.manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"The index at {path.parent} has format version {self.manifest.get('format_version')}, "
                f"this version of sourced reads {FORMAT_VERSION}. Run `sourced index` to update it."
            )
        self._local = threading.local()
        self._faiss = None
        self._lexical: LexicalIndex | None = None
        self._embeddings: np.ndarray | None = None
        self._sentence_vectors: np.ndarray | None = None
        self._faiss_lock = threading.Lock()

    @property
    def generation(self) -> str:
        return self.path.name

    @property
    def model_id(self) -> str:
        return self.manifest["model_id"]

    @property
    def dimension(self) -> int:
        return int(self.manifest["dimension"])

    @property
    def chunk_count(self) -> int:
        return int(self.manifest["chunks"])

    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = (self.path / META).resolve().as_uri() + "?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    @property
    def faiss_index(self):
        if self._faiss is None:
            with self._faiss_lock:
                if self._faiss is None:
                    import faiss

                    index = faiss.read_index(str(self.path / VECTORS))
                    vector_index.prepare_for_queries(index, self.manifest.get("index_params", {}))
                    vector_index.single_thread_queries()
                    self._faiss = index
        return self._faiss

    def search(self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``n`` nearest chunk rows to ``vector`` by inner product, best first.

        ``allowed``: search only these rows (a filter), exactly, inside FAISS.
        """
        import numpy as np

        if self.chunk_count == 0 or n <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        index = self.faiss_index
        params = vector_index.search_params(index, self.manifest.get("index_params", {}), allowed)
        limit = min(n, len(allowed) if allowed is not None else self.chunk_count)
        scores, ids = index.search(query, limit, params=params) if params else index.search(query, limit)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def chunks(self, rows: Sequence[int]) -> dict[int, tuple[Chunk, Document]]:
        """Chunk and document for each row (rows not in the index are left out)."""
        if not rows:
            return {}
        db = self.db()
        marks = ",".join("?" * len(rows))
        chunk_rows = db.execute(
            f'SELECT row, doc_id, ordinal, start, "end" FROM chunks WHERE row IN ({marks})', list(rows)
        ).fetchall()
        doc_ids = sorted({r[1] for r in chunk_rows})
        docs = {d.id: d for d in self.documents(doc_ids)}
        out = {}
        for row, doc_id, ordinal, start, end in chunk_rows:
            doc = docs[doc_id]
            out[row] = (Chunk(doc_id, ordinal, doc.text[start:end], start, end), doc)
        return out

    def documents(self, ids: Iterable[str] | None = None) -> list[Document]:
        db = self.db()
        if ids is None:
            rows = db.execute(f"SELECT {DOC_COLUMNS} FROM documents ORDER BY published DESC, title").fetchall()
        else:
            ids = list(ids)
            marks = ",".join("?" * len(ids))
            rows = db.execute(f"SELECT {DOC_COLUMNS} FROM documents WHERE id IN ({marks})", ids).fetchall()
        return [row_doc(r) for r in rows]

    def content_hashes(self) -> dict[str, str]:
        return dict(self.db().execute("SELECT id, content_hash FROM documents").fetchall())

    def chunk_records(self) -> dict[str, list[tuple[int, ChunkRecord]]]:
        """(row, record) of every chunk, grouped by document, in order."""
        grouped: dict[str, list[tuple[int, ChunkRecord]]] = {}
        for row, doc_id, ordinal, start, end, embed_hash in self.db().execute(
            'SELECT row, doc_id, ordinal, start, "end", embed_hash FROM chunks ORDER BY doc_id, ordinal'
        ):
            grouped.setdefault(doc_id, []).append((row, ChunkRecord(doc_id, ordinal, start, end, embed_hash)))
        return grouped

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            with self._faiss_lock:
                if self._lexical is None:
                    self._lexical = LexicalIndex.load(self.path / LEXICAL_DIR)
        return self._lexical

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of some rows (exact, whatever the FAISS index type)."""
        import numpy as np

        if self._embeddings is None:
            self._embeddings = self.embeddings()
        return np.asarray(self._embeddings[np.asarray(rows, dtype=np.int64)], dtype=np.float32)

    def rows_where(self, since: str | None, until: str | None, outlet: str | None, source: str | None) -> np.ndarray:
        """Row numbers of chunks whose document passes the filters (dates as ISO text)."""
        import numpy as np

        clauses, args = [], []
        if since:
            clauses.append("d.published >= ?")
            args.append(since)
        if until:
            clauses.append("d.published < ?")
            args.append(until)
        if outlet:
            clauses.append("lower(coalesce(d.outlet, '')) LIKE ? ESCAPE '\\'")
            args.append(f"%{like_pattern(outlet.lower())}%")
        if source:
            clauses.append("(lower(d.source) LIKE ? ESCAPE '\\' OR lower(coalesce(d.url, '')) LIKE ? ESCAPE '\\')")
            args += [f"%{like_pattern(source.lower())}%"] * 2
        where = " AND ".join(clauses) or "1"
        rows = (
            self.db()
            .execute(f"SELECT c.row FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where}", args)
            .fetchall()
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def sentences_in(self, spans: Sequence[tuple[str, int, int]]) -> list[list[tuple[int, int, int, str]]]:
        """For each (doc_id, start, end) span: (row, start, end, tokens) of the sentences inside."""
        db = self.db()
        return [
            db.execute(
                'SELECT row, start, "end", tokens FROM sentences WHERE doc_id = ? AND start >= ? AND "end" <= ? '
                "ORDER BY start",
                (doc_id, start, end),
            ).fetchall()
            for doc_id, start, end in spans
        ]

    def sentence_matrix(self) -> np.ndarray:
        """All sentence vectors (float16), row-aligned with the sentences table, memory-mapped."""
        import numpy as np

        if self._sentence_vectors is None:
            self._sentence_vectors = np.load(self.path / SENTENCE_VECTORS, mmap_mode="r")
        return self._sentence_vectors

    @property
    def current_format(self) -> bool:
        return self.manifest.get("format_version") == FORMAT_VERSION

    def sentence_records(self) -> list[tuple[int, SentenceRecord]]:
        """(row, record) of every stored sentence, in row order."""
        rows = self.db().execute('SELECT row, doc_id, start, "end", hash FROM sentences ORDER BY row').fetchall()
        return [(row, SentenceRecord(doc_id, start, end, digest)) for row, doc_id, start, end, digest in rows]

    def sentence_hashes(self) -> dict[str, int]:
        try:
            return dict(self.db().execute("SELECT hash, row FROM sentences").fetchall())
        except sqlite3.OperationalError:  # written by a version without sentence vectors
            return {}

    def embeddings(self) -> np.ndarray:
        """All chunk vectors, row-aligned, memory-mapped (not read until used)."""
        import numpy as np

        return np.load(self.path / EMBEDDINGS, mmap_mode="r")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
