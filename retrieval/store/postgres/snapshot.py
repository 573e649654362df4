"""One generation of the PostgreSQL store, read as one index (the rows with
``added <= G < removed``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from retrieval.errors import SourcedError
from retrieval.store.folder.schema import row_doc
from retrieval.store.postgres.bm25 import PgBM25
from retrieval.store.postgres.connection import DOC_COLUMNS, gen_name, halfvec, visible
from retrieval.store.records import (
    SENTENCE_SCALE,
    ChunkRecord,
    ManifestFacts,
    SentenceRecord,
)
from retrieval.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

    from retrieval.store.postgres.store import PgStore


class PgSnapshot(ManifestFacts):
    """One generation of a :class:`PgStore`, read through the store's per-thread connections."""

    segments: Sequence[Any] = ()

    def __init__(self, store: PgStore, gen: int, manifest: dict[str, Any]) -> None:
        self.store = store
        self.gen = gen
        self.manifest = manifest
        self.path = store.path
        self._args = {"g": gen}
        self._lexical: PgBM25 | None = None
        self._document_index: dict[str, tuple[str, str, int]] | None = None
        self.rows = int(manifest.get("rows", 0))

    def _q(self, sql: str) -> str:
        return self.store._q(sql)

    def _all(self, sql: str, args: dict[str, Any] | None = None, binary: bool = False) -> list[tuple]:
        """Rows of ``sql`` at this generation; ``binary`` results for vectors (pgvector's
        text form costs a Python float per number to parse)."""
        params = {**self._args, **(args or {})}
        return self.store._read(lambda conn: conn.execute(self._q(sql), params, binary=binary).fetchall())

    # ------------------------------------------------------------------ what it is

    @property
    def generation(self) -> str:
        return gen_name(self.gen)

    @property
    def segment_count(self) -> int:
        return 0

    # ------------------------------------------------------------------ search

    def search(self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        if self.chunk_count == 0 or n <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        q = halfvec(vector)
        if allowed is not None:
            # A filter: score exactly the rows it allows (ordered by an expression the
            # HNSW index cannot serve, so the planner reads those rows, not the graph).
            found = self._all(
                f"SELECT row, -(embedding <#> %(q)s) FROM S.chunks WHERE row = ANY(%(rows)s) AND {visible()} "
                "ORDER BY -(embedding <#> %(q)s) DESC, row LIMIT %(n)s",
                {"q": q, "rows": [int(r) for r in allowed], "n": n},
            )
        else:
            found = self._all(
                f"SELECT row, -(embedding <#> %(q)s) FROM S.chunks WHERE {visible()} "
                "ORDER BY embedding <#> %(q)s LIMIT %(n)s",
                {"q": q, "n": n},
            )
        out = [(int(r), float(s)) for r, s in found]
        out.sort(key=lambda x: (-x[1], x[0]))
        return out

    @property
    def lexical(self) -> PgBM25:
        if self._lexical is None:
            self._lexical = PgBM25(self)
        return self._lexical

    def _stored(self, table: str, rows: Sequence[int], decode) -> np.ndarray:
        """The ``embedding`` of ``rows`` in ``table`` (read in binary), in the order asked;
        zeros for rows it does not hold."""
        import numpy as np

        wanted = [int(r) for r in np.asarray(rows).reshape(-1)]
        sql = f"SELECT row, embedding FROM S.{table} WHERE row = ANY(%(rows)s)"
        found = dict(self._all(sql, {"rows": wanted}, binary=True))
        out = np.zeros((len(wanted), self.dimension), dtype=np.float32)
        for i, row in enumerate(wanted):
            if row in found:
                out[i] = decode(found[row])
        return out

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        return self._stored("chunks", rows, lambda v: v.to_numpy())

    def sentence_vectors(self, rows: Sequence[int]) -> np.ndarray:
        import numpy as np

        return self._stored("sentences", rows, lambda v: np.frombuffer(v, dtype=np.int8)) / SENTENCE_SCALE

    def stored_vectors(self, refs: Sequence[tuple[int, int]], sentences: bool = False) -> np.ndarray:
        """Vectors by the (0, row) references :meth:`stored_records` gives."""
        rows = [row for _, row in refs]
        return self.sentence_vectors(rows) if sentences else self.vectors(rows)

    # ------------------------------------------------------------------ metadata

    def signatures(self, doc_ids: Iterable[str]) -> dict[str, np.ndarray]:
        import numpy as np

        rows = self._all(
            f"SELECT id, signature FROM S.documents WHERE id = ANY(%(ids)s) AND {visible()}", {"ids": list(doc_ids)}
        )
        return {doc_id: np.frombuffer(sig, dtype=np.uint32) for doc_id, sig in rows}

    def chunk_refs(self, rows: Sequence[int]) -> dict[int, tuple[str, int, int, int]]:
        found = self._all(
            f'SELECT row, doc_id, ordinal, start, "end" FROM S.chunks WHERE row = ANY(%(rows)s) AND {visible()}',
            {"rows": [int(r) for r in rows]},
        )
        return {int(r): (d, o, s, e) for r, d, o, s, e in found}

    def chunks(self, rows: Sequence[int]) -> dict[int, tuple[Chunk, Document]]:
        refs = self.chunk_refs(rows)
        docs = {d.id: d for d in self.documents({doc_id for doc_id, *_ in refs.values()})}
        return {
            row: (Chunk(doc_id, ordinal, docs[doc_id].text[start:end], start, end), docs[doc_id])
            for row, (doc_id, ordinal, start, end) in refs.items()
            if doc_id in docs
        }

    def documents(self, ids: Iterable[str] | None = None) -> list[Document]:
        """Live documents, newest first (then by title)."""
        if ids is None:
            rows = self._all(f"SELECT {DOC_COLUMNS} FROM S.documents WHERE {visible()}")
        else:
            rows = self._all(
                f"SELECT {DOC_COLUMNS} FROM S.documents WHERE id = ANY(%(ids)s) AND {visible()}", {"ids": list(ids)}
            )
        docs = [row_doc(r) for r in rows]
        docs.sort(key=lambda d: (d.published is None, -(d.published.timestamp() if d.published else 0), d.title))
        return docs

    def document_index(self) -> dict[str, tuple[str, str, int]]:
        if self._document_index is None:
            rows = self._all(f"SELECT id, content_hash, origin FROM S.documents WHERE {visible()}")
            self._document_index = {doc_id: (h, origin, 0) for doc_id, h, origin in rows}
        return self._document_index

    def rows_where(self, since: str | None, until: str | None, outlet: str | None, source: str | None) -> np.ndarray:
        import numpy as np

        from retrieval.store.folder.schema import CLAIMED_ELSEWHERE, like_pattern

        clauses, args = [], {}
        if since:
            clauses.append("d.published >= %(since)s")
            args["since"] = since
        if until:
            clauses.append("d.published < %(until)s")
            args["until"] = until
        if outlet:
            clauses.append("lower(coalesce(d.outlet, '')) LIKE %(outlet)s")
            args["outlet"] = f"%{like_pattern(outlet.lower())}%"
            if "(" not in outlet:  # see CLAIMED_ELSEWHERE
                for n, pattern in enumerate(CLAIMED_ELSEWHERE):
                    clauses.append(f"lower(coalesce(d.outlet, '')) NOT LIKE %(claimed{n})s")
                    args[f"claimed{n}"] = pattern
        if source:
            clauses.append("(lower(d.source) LIKE %(source)s OR lower(coalesce(d.url, '')) LIKE %(source)s)")
            args["source"] = f"%{like_pattern(source.lower())}%"
        where = " AND ".join([visible("c"), visible("d"), *clauses])
        found = self._all(f"SELECT c.row FROM S.chunks c JOIN S.documents d ON d.id = c.doc_id WHERE {where}", args)
        return np.array(sorted(r[0] for r in found), dtype=np.int64)

    def sentences_in(self, spans: Sequence[tuple[int, str, int, int]]) -> list[list[tuple[int, int, int, str]]]:
        out: list[list[tuple[int, int, int, str]]] = [[] for _ in spans]
        if not spans:
            return out
        found = self._all(
            'SELECT s.i, x.row, x.start, x."end", x.tokens FROM unnest(%(docs)s::text[], %(starts)s::int[], '
            "%(ends)s::int[]) WITH ORDINALITY AS s(doc_id, a, b, i) JOIN S.sentences x ON x.doc_id = s.doc_id "
            f'AND x.start >= s.a AND x."end" <= s.b WHERE {visible("x")}',
            {
                "docs": [s[1] for s in spans],
                "starts": [int(s[2]) for s in spans],
                "ends": [int(s[3]) for s in spans],
            },
        )
        for i, row, start, end, tokens in found:
            out[int(i) - 1].append((int(row), start, end, tokens))
        for sentences in out:
            sentences.sort(key=lambda s: s[1])
        return out

    def rows_of_documents(self, doc_ids: Iterable[str]) -> np.ndarray:
        import numpy as np

        found = self._all(
            f"SELECT row FROM S.chunks WHERE doc_id = ANY(%(ids)s) AND {visible()}", {"ids": list(doc_ids)}
        )
        return np.array(sorted(r[0] for r in found), dtype=np.int64)

    def stored_records(self, doc_ids: Iterable[str]) -> dict[str, tuple[int, list, list]]:
        ids = list(doc_ids)
        out: dict[str, tuple[int, list, list]] = {}
        chunks = self._all(
            f'SELECT row, doc_id, ordinal, start, "end", embed_hash FROM S.chunks '
            f"WHERE doc_id = ANY(%(ids)s) AND {visible()} ORDER BY row",
            {"ids": ids},
        )
        for row, doc_id, ordinal, start, end, h in chunks:
            out.setdefault(doc_id, (0, [], []))[1].append((int(row), ChunkRecord(doc_id, ordinal, start, end, h)))
        sentences = self._all(
            f'SELECT row, doc_id, start, "end", hash FROM S.sentences '
            f"WHERE doc_id = ANY(%(ids)s) AND {visible()} ORDER BY row",
            {"ids": ids},
        )
        for row, doc_id, start, end, h in sentences:
            out.setdefault(doc_id, (0, [], []))[2].append((int(row), SentenceRecord(doc_id, start, end, h)))
        return out

    def chunk_records(self) -> dict[str, list[tuple[int, ChunkRecord]]]:
        grouped: dict[str, list[tuple[int, ChunkRecord]]] = {}
        rows = self._all(
            f'SELECT row, doc_id, ordinal, start, "end", embed_hash FROM S.chunks WHERE {visible()} '
            "ORDER BY doc_id, ordinal"
        )
        for row, doc_id, ordinal, start, end, h in rows:
            grouped.setdefault(doc_id, []).append((int(row), ChunkRecord(doc_id, ordinal, start, end, h)))
        return grouped

    def sentence_records(self) -> list[tuple[int, SentenceRecord]]:
        rows = self._all(f'SELECT row, doc_id, start, "end", hash FROM S.sentences WHERE {visible()} ORDER BY row')
        return [(int(row), SentenceRecord(doc_id, start, end, h)) for row, doc_id, start, end, h in rows]

    def embeddings(self) -> np.ndarray:
        raise SourcedError("Benchmarks read vectors from a folder index; this one is in PostgreSQL.")

    def close(self) -> None:
        self.store._readers.close_mine()
