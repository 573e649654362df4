"""How one change becomes one transaction: mark what left as removed, copy what is new,
record the manifest, move the head, and purge rows no kept generation can see."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from retrieval.store.lexical import tokenize
from retrieval.store.postgres.connection import gen_name, halfvec, visible
from retrieval.store.records import (
    FORMAT_VERSION,
    SegmentData,
    quantize_sentences,
)

if TYPE_CHECKING:
    pass


class WritesMixin:
    """The write path, mixed into :class:`PgStore`."""

    def _apply(self, conn, previous, change, settings: dict[str, Any], lexical: dict[str, Any]) -> int:
        import numpy as np

        from retrieval.store.dedup import signatures

        gen = int(conn.execute(self._q("SELECT nextval('S.gen_seq')")).fetchone()[0])
        head = self._head(conn)
        tables = ("documents", "chunks", "sentences", "terms")
        if change.replace_all:
            for table in tables:
                conn.execute(self._q(f"UPDATE S.{table} SET removed = %s WHERE removed IS NULL"), (gen,))
        elif change.deletions:
            ids = sorted(change.deletions)
            conn.execute(
                self._q("UPDATE S.documents SET removed = %s WHERE removed IS NULL AND id = ANY(%s)"), (gen, ids)
            )
            for table in tables[1:3]:
                conn.execute(
                    self._q(f"UPDATE S.{table} SET removed = %s WHERE removed IS NULL AND doc_id = ANY(%s)"), (gen, ids)
                )
            conn.execute(
                self._q(
                    "UPDATE S.terms SET removed = %s WHERE removed IS NULL "
                    "AND row IN (SELECT row FROM S.chunks WHERE removed = %s AND doc_id = ANY(%s))"
                ),
                (gen, gen, ids),
            )
        data: SegmentData | None = change.new
        if data is not None and (data.documents or data.chunks):
            if len(data.chunks) != len(data.vectors) or len(data.sentences) != len(data.sentence_vectors):
                raise ValueError("one vector per chunk and per sentence is required")
            minhash = data.signatures if data.signatures is not None else signatures([d.text for d in data.documents])
            minhash = np.ascontiguousarray(minhash, dtype=np.uint32)
            with conn.cursor().copy(
                self._q(
                    "COPY S.documents (id, added, title, text, url, outlet, published, source, parent_id, "
                    "topics, content_hash, origin, signature) FROM STDIN"
                )
            ) as copy:
                from retrieval.store.folder.schema import doc_row

                for doc, origin, sig in zip(data.documents, data.origins, minhash, strict=True):
                    row = doc_row(doc, origin)
                    copy.write_row((row[0], gen, *row[1:], sig.tobytes()))
            texts = data.texts
            if texts is None:
                by_id = {d.id: d for d in data.documents}
                texts = [by_id[c.doc_id].text[c.start : c.end] for c in data.chunks]
            rows = self._take(conn, "row_seq", len(data.chunks))
            tokens = tokenize(list(texts), lexical)
            vectors = np.asarray(data.vectors, dtype=np.float32).reshape(len(data.chunks), int(settings["dimension"]))
            with conn.cursor().copy(
                self._q(
                    'COPY S.chunks (row, doc_id, added, ordinal, start, "end", embed_hash, length, embedding) '
                    "FROM STDIN (FORMAT BINARY)"
                )
            ) as copy:
                copy.set_types(["int8", "text", "int4", "int4", "int4", "int4", "text", "int4", "halfvec"])
                for row, c, words, vector in zip(rows, data.chunks, tokens, vectors, strict=True):
                    copy.write_row(
                        (row, c.doc_id, gen, c.ordinal, c.start, c.end, c.embed_hash, len(words), halfvec(vector))
                    )
            with conn.cursor().copy(self._q("COPY S.terms (term, row, tf, length, added) FROM STDIN")) as copy:
                for row, words in zip(rows, tokens, strict=True):
                    for term, tf in Counter(words).items():
                        copy.write_row((term, row, tf, len(words), gen))
            sentence_tokens = data.sentence_tokens
            if sentence_tokens is None:
                by_id = {d.id: d for d in data.documents}
                sentence_texts = [by_id[x.doc_id].text[x.start : x.end] for x in data.sentences]
                sentence_tokens = [" ".join(t) for t in tokenize(sentence_texts, lexical)]
            quantized = quantize_sentences(data.sentence_vectors).reshape(len(data.sentences), vectors.shape[1])
            srows = self._take(conn, "sentence_seq", len(data.sentences))
            with conn.cursor().copy(
                self._q('COPY S.sentences (row, doc_id, added, start, "end", hash, tokens, embedding) FROM STDIN')
            ) as copy:
                for row, x, words, vector in zip(srows, data.sentences, sentence_tokens, quantized, strict=True):
                    copy.write_row((row, x.doc_id, gen, x.start, x.end, x.hash, words, vector.tobytes()))
        live_docs = conn.execute(self._q(f"SELECT count(*) FROM S.documents WHERE {visible()}"), {"g": gen}).fetchone()[
            0
        ]
        live_rows, length = conn.execute(
            self._q(f"SELECT count(*), coalesce(sum(length), 0) FROM S.chunks WHERE {visible()}"), {"g": gen}
        ).fetchone()
        limit = conn.execute(self._q("SELECT coalesce(max(row), -1) + 1 FROM S.chunks")).fetchone()[0]
        sources = change.sources if change.sources is not None else (previous.sources if previous else [])
        manifest = {
            **{k: v for k, v in settings.items() if k not in ("segments", "sources", "parent")},
            "format_version": FORMAT_VERSION,
            "store": "postgresql",
            "lexical": lexical,
            "segments": [],
            "sources": sources,
            "documents": int(live_docs),
            "chunks": int(live_rows),
            "length": int(length),
            "rows": int(limit),
            "parent": gen_name(head) if head is not None and previous is not None else None,
            "action": change.action or settings.get("action", ""),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        conn.execute(self._q("INSERT INTO S.generations VALUES (%s, %s)"), (gen, json.dumps(manifest)))
        conn.execute(
            self._q("INSERT INTO S.meta VALUES ('head', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"),
            (json.dumps(gen),),
        )
        kept = conn.execute(
            self._q("SELECT gen FROM S.generations ORDER BY gen DESC LIMIT 1 OFFSET %s"), (self.keep_generations - 1,)
        ).fetchone()
        if kept is not None:
            self._purge(conn, int(kept[0]))
        return gen

    def _take(self, conn, sequence: str, n: int) -> list[int]:
        if n == 0:
            return []
        rows = conn.execute(self._q(f"SELECT nextval('S.{sequence}') FROM generate_series(1, %s)"), (n,)).fetchall()
        return [int(r[0]) for r in rows]

    def _purge(self, conn, oldest: int) -> None:
        """Delete rows no generation from ``oldest`` on can see, and older generations."""
        for table in ("terms", "chunks", "sentences", "documents"):
            conn.execute(self._q(f"DELETE FROM S.{table} WHERE removed <= %s"), (oldest,))
        conn.execute(self._q("DELETE FROM S.generations WHERE gen < %s"), (oldest,))
