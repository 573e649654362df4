"""`sourced doctor` on the PostgreSQL store: counts and rows agree with the manifest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.errors import IndexMismatchError, IndexMissingError
from retrieval.store.base import HealthReport
from retrieval.store.postgres.connection import visible

if TYPE_CHECKING:
    pass


class HealthMixin:
    """The checks, mixed into :class:`PgStore`."""

    def check(self) -> HealthReport:
        """`sourced doctor`. A database that cannot be reached is not a damaged index: that
        error goes to the caller as it is."""
        try:
            if self.current_name() is None:
                return HealthReport((), (f"No index in {self.where} yet.",))
            facts, problems = self._check_rows()
        except (IndexMissingError, IndexMismatchError) as exc:
            return HealthReport((), (str(exc),))
        return HealthReport(tuple(facts), tuple(problems))

    def _check_rows(self) -> tuple[list[str], list[str]]:
        """(facts, problems) of the live generation, for `sourced doctor`."""
        import numpy as np

        snap = self.open()
        conn = self._readers.get()
        g = {"g": snap.gen}
        m = snap.manifest
        facts = [
            f"live generation {snap.generation} in {self.where}, built {m.get('created')} with "
            f"{m.get('model_id')} ({m.get('dimension')} dims)",
            f"{m.get('documents')} documents, {m.get('chunks')} passages; {len(snap.sources)} source(s); "
            f"{len(self.generations()) - 1} earlier generation(s) to roll back to",
        ]
        problems = []

        def count(sql: str) -> int:
            return int(conn.execute(self._q(sql), g).fetchone()[0])

        docs = count(f"SELECT count(*) FROM S.documents WHERE {visible()}")
        chunks = count(f"SELECT count(*) FROM S.chunks WHERE {visible()}")
        if docs != m.get("documents"):
            problems.append(f"manifest says {m.get('documents')} documents, the database holds {docs} live")
        if chunks != m.get("chunks"):
            problems.append(f"manifest says {m.get('chunks')} passages, the database holds {chunks} live")
        orphans = count(
            f"SELECT count(*) FROM S.chunks c WHERE {visible('c')} AND NOT EXISTS "
            f"(SELECT 1 FROM S.documents d WHERE d.id = c.doc_id AND {visible('d')})"
        )
        if orphans:
            problems.append(f"{orphans} passages belong to no live document")
        bad = count(
            f"SELECT count(*) FROM S.chunks c JOIN S.documents d ON d.id = c.doc_id AND {visible('d')} "
            f'WHERE {visible("c")} AND (c.start < 0 OR c."end" > length(d.text) OR c.start >= c."end")'
        )
        if bad:
            problems.append(f"{bad} passages have offsets outside their document")
        sample = conn.execute(
            self._q(f"SELECT embedding FROM S.chunks WHERE {visible()} ORDER BY row LIMIT 64"), g
        ).fetchall()
        if sample:
            vectors = np.stack([r[0].to_numpy().astype(np.float32) for r in sample])
            if vectors.shape[1] != snap.dimension:
                problems.append(f"stored vectors have {vectors.shape[1]} dimensions, expected {snap.dimension}")
            elif not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=5e-3):
                problems.append("stored vectors are not unit length")
        untermed = count(
            f"SELECT count(*) FROM S.chunks c WHERE {visible('c')} AND c.length > 0 AND NOT EXISTS "
            "(SELECT 1 FROM S.terms t WHERE t.row = c.row)"
        )
        if untermed:
            problems.append(f"{untermed} passages have no BM25 postings")
        hnsw = conn.execute(
            "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = 'chunks_hnsw'", (self.schema,)
        ).fetchone()
        if not hnsw:
            problems.append("the passages' HNSW index is missing (searches scan every vector)")
        return facts, problems
