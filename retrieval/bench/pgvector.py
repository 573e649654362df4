"""pgvector's HNSW beside FAISS (`sourced bench scale --store postgresql://…`): the same
vectors and questions, built in a scratch table of the given database, timed from this
process (so each query's time includes the round trip to the server on 127.0.0.1)."""

from __future__ import annotations

import time
from typing import Any

from retrieval.store.postgres.store import StoreError, connect

__all__ = ["StoreError", "bench_pgvector", "connect"]

TABLE = "sourced_bench_vectors"


def _literal(vector) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def bench_pgvector(
    url: str,
    data,
    queries,
    truth,
    m: int = 16,
    ef_construction: int = 64,
    ef_searches: tuple[int, ...] = (40, 100, 400),
    log=lambda _m: None,
) -> list[dict[str, Any]]:
    """Build an HNSW index over ``data`` in a scratch table and measure it like a FAISS
    kind, once per ``hnsw.ef_search`` (recall against speed on one build)."""
    import numpy as np

    from retrieval.bench.timing import percentile

    n, dim = data.shape
    rows = []
    with connect(url) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except Exception as exc:  # noqa: BLE001 - any refusal means the same to the user
            raise StoreError(f"The database has no pgvector extension and cannot create it: {exc}") from None
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE UNLOGGED TABLE {TABLE} (id integer PRIMARY KEY, v vector({dim}))")
        log(f"pgvector-hnsw: copying {n} vectors")
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY {TABLE} (id, v) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row((i, _literal(data[i])))
        copy_s = time.perf_counter() - started
        log("pgvector-hnsw: building the index")
        # The graph must fit in maintenance memory or the build slows down many times over
        # (pgvector says so in a notice): about 2 KB a vector at m 16, plus headroom.
        work_mb = max(1024, int(n * dim * 4 * 1.6 / 2**20))
        conn.execute(f"SET maintenance_work_mem = '{work_mb}MB'")
        started = time.perf_counter()
        conn.execute(
            f"CREATE INDEX {TABLE}_hnsw ON {TABLE} USING hnsw (v vector_ip_ops) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
        )
        build_s = time.perf_counter() - started
        index_bytes = conn.execute(f"SELECT pg_relation_size('{TABLE}_hnsw')").fetchone()[0]
        table_bytes = conn.execute(f"SELECT pg_table_size('{TABLE}')").fetchone()[0]
        sql = f"SELECT id FROM {TABLE} ORDER BY v <#> %s::vector LIMIT 10"
        for ef_search in ef_searches:
            conn.execute(f"SET hnsw.ef_search = {int(ef_search)}")
            conn.execute(sql, (_literal(queries[0]),)).fetchall()  # warm
            times, got = [], []
            for q in queries:
                literal = _literal(q)
                started = time.perf_counter()
                ids = [r[0] for r in conn.execute(sql, (literal,)).fetchall()]
                times.append((time.perf_counter() - started) * 1000)
                got.append(ids)
            recall = float(np.mean([len(set(g) & set(t.tolist())) / 10 for g, t in zip(got, truth, strict=True)]))
            rows.append(
                {
                    "index": "pgvector-hnsw",
                    "params": {
                        "m": m,
                        "ef_construction": ef_construction,
                        "ef_search": ef_search,
                        "copy_s": round(copy_s, 2),
                    },
                    "build_s": round(build_s, 2),
                    "memory_mb": round(index_bytes / 2**20, 1),
                    "memory_mb_per_million": round(index_bytes / 2**20 * 1_000_000 / n, 1),
                    "disk_mb_table": round(table_bytes / 2**20, 1),
                    "recall@10": round(recall, 4),
                    "query_p50_ms": round(percentile(times, 0.5), 3),
                    "query_p95_ms": round(percentile(times, 0.95), 3),
                }
            )
        conn.execute(f"DROP TABLE {TABLE}")
    return rows
