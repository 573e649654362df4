"""`sourced bench scale`: exact vs approximate FAISS indexes at up to millions of vectors.

Vectors are synthetic (clustered), or real passage vectors of a BEIR corpus grown along
their neighbours, with its real questions as queries (docs/scale.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from retrieval.bench.timing import percentile
from retrieval.config import Config
from retrieval.embedding import Embedder


def clustered_vectors(n: int, dim: int = 384, seed: int = 0):
    """Unit vectors with the nested structure of a real corpus: topics (like beats of a
    newsroom), stories within topics, passages within stories. Neighbours are then
    mostly passages of the same story, as with real embeddings, so recall@10 means
    something (uniform random vectors have no true neighbours to find)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    topics = max(8, n // 2000)
    stories_per_topic = 20
    topic_centres = rng.normal(size=(topics, dim)).astype(np.float32)
    topic_centres /= np.linalg.norm(topic_centres, axis=1, keepdims=True)
    story_centres = np.repeat(topic_centres, stories_per_topic, axis=0) + rng.normal(
        scale=0.05, size=(topics * stories_per_topic, dim)
    ).astype(np.float32)
    story_centres /= np.linalg.norm(story_centres, axis=1, keepdims=True)
    sizes = rng.zipf(1.6, len(story_centres)).astype(np.float64)  # a few big stories, many small
    weights = sizes / sizes.sum()
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for begin in range(0, n, step):
        m = min(step, n - begin)
        labels = rng.choice(len(story_centres), size=m, p=weights)
        block = story_centres[labels] + rng.normal(scale=0.03, size=(m, dim)).astype(np.float32)
        out[begin : begin + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, rng


def expand_vectors(base: Any, n: int, rng: Any, neighbours: int = 10, spread: float = 0.6) -> Any:
    """``n`` unit vectors grown from the real vectors ``base`` (kept as the first rows).

    Each new vector lies between a real vector and one of its ``neighbours`` nearest
    real vectors, moved by ``spread`` times the difference of two more of those
    neighbours: it stays on the surface the real embeddings occupy instead of filling
    all 384 dimensions as random noise does. Checked by
    ``benchmarks/validate_scale_data.py``: 5,000 (and 1,000) SciFact passage vectors grown
    to 22,320 behave like the real 22,320 under IVF and HNSW (docs/scale.md).
    """
    import faiss
    import numpy as np

    m, dim = base.shape
    base = np.ascontiguousarray(base, dtype=np.float32)
    if n <= m:
        return base[:n].copy()
    k = min(neighbours, m - 1)
    exact = faiss.IndexFlatIP(dim)
    exact.add(base)
    _, near = exact.search(base, k + 1)  # column 0 is the vector itself
    out = np.empty((n, dim), dtype=np.float32)
    out[:m] = base
    step = 200_000  # bounded temporaries: a million rows at once would need ~6 GB
    for begin in range(m, n, step):
        size = min(step, n - begin)
        origin = rng.integers(0, m, size=size)
        pick = near[origin[:, None], rng.integers(1, k + 1, size=(size, 3))]
        t = rng.uniform(0, 1, size=(size, 1)).astype(np.float32)
        grown = base[origin] * (1 - t) + base[pick[:, 0]] * t + spread * (base[pick[:, 1]] - base[pick[:, 2]])
        out[begin : begin + size] = grown / np.maximum(np.linalg.norm(grown, axis=1, keepdims=True), 1e-12)
    return out


def corpus_vectors(
    folder: Path, config: Config, embedder: Embedder, cache_root: Path, progress: Any = None
) -> tuple[Any, Any]:
    """The passage vectors of a BEIR corpus (its cached benchmark index, built if missing)
    and the vectors of its real questions, every split that has them."""
    from retrieval.bench.beir import load_beir, prepare
    from retrieval.errors import SourcedError

    dataset = load_beir(folder, "test")
    passages = prepare(dataset, folder, config, embedder, cache_root, False, progress).snapshot.embeddings()
    questions: dict[str, None] = {}
    for split in ("train", "dev", "test"):
        try:
            questions.update(dict.fromkeys(load_beir(folder, split).queries.values()))
        except SourcedError:
            continue
    return passages, embedder.embed(list(questions))


def bench_scale(
    n: int,
    kinds: Sequence[str],
    queries: int = 200,
    source: Any = None,
    questions: Any = None,
    log: Callable[[str], None] = lambda _m: None,
    store: str | None = None,
    hnsw: tuple[int, int] = (16, 64),
) -> dict[str, Any]:
    """Build each index kind over ``n`` vectors and measure it against exact search
    (and, with ``store``, a PostgreSQL URL, pgvector's HNSW in that database, built with
    ``hnsw`` = (m, ef_construction)).

    ``source``: real passage vectors, grown to ``n`` by :func:`expand_vectors` when
    fewer (else synthetic clustered vectors). ``questions``: real question vectors to
    query with (else stored vectors plus noise, about cosine 0.7 from one of them)."""
    import faiss
    import numpy as np

    from retrieval.store.folder import vectors as vector_index

    if source is not None:
        rng = np.random.default_rng(0)
        m = len(source)
        data = expand_vectors(source, n, rng)
        origin = f"real passage vectors ({m:,})" + (f" grown {n / m:.0f}x along their neighbours" if n > m else "")
    else:
        data, rng = clustered_vectors(n)
        origin = "synthetic clustered unit vectors"
    n, dim = data.shape
    if questions is not None and len(questions):
        q = np.ascontiguousarray(
            questions[rng.choice(len(questions), size=min(queries, len(questions)), replace=False)]
        )
        query_origin = "real questions"
    else:
        # Question-like queries: about cosine 0.7 from a stored vector.
        noise = rng.normal(scale=0.05, size=(queries, dim)).astype(np.float32)
        q = data[rng.choice(n, size=queries, replace=False)] + noise
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        query_origin = "stored vectors plus noise"
    q = q.astype(np.float32)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    exact = faiss.IndexFlatIP(dim)
    exact.add(data)
    _, truth = exact.search(q, 10)
    rows = []
    for kind in kinds:
        log(f"{kind}: building over {n} vectors")
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        built = vector_index.build(data, kind)
        vector_index.prepare_for_queries(built.index, built.params)
        memory = len(faiss.serialize_index(built.index)) / 2**20
        faiss.omp_set_num_threads(1)
        times, got = [], []
        for i in range(len(q)):
            started = time.perf_counter()
            _, ids = built.index.search(q[i : i + 1], 10)
            times.append((time.perf_counter() - started) * 1000)
            got.append(ids[0])
        recall = float(np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got, truth, strict=True)]))
        rows.append(
            {
                "index": built.kind,
                "params": built.params,
                "build_s": round(built.seconds, 2),
                "memory_mb": round(memory, 1),
                "memory_mb_per_million": round(memory * 1_000_000 / n, 1),
                "recall@10": round(recall, 4),
                "query_p50_ms": round(percentile(times, 0.5), 3),
                "query_p95_ms": round(percentile(times, 0.95), 3),
            }
        )
    if store:
        from retrieval.bench.pgvector import bench_pgvector

        rows += bench_pgvector(store, data, q, truth, m=hnsw[0], ef_construction=hnsw[1], log=log)
    return {
        "vectors": n,
        "dimension": dim,
        "data": origin,
        "query_source": query_origin,
        "queries": len(q),
        "threads_per_query": 1,
        "rows": rows,
        "auto_choice": vector_index.choose_kind(n),
    }
