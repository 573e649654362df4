"""The FAISS side of the index: which index type, how it is built, searched and tuned.

Below ``EXACT_LIMIT`` vectors the index is exact (flat inner product): at that size a
query costs a few milliseconds and approximate search would only lose recall. Above it,
an inverted-file index (IVF) with 8-bit scalar-quantised vectors keeps memory at a
quarter and queries in milliseconds; its ``nprobe`` is tuned at build time until
recall@10 against exact search reaches ``TUNING_RECALL`` (a margin above the 0.95 target) on
sampled queries. Numbers behind these choices: docs/scale.md (`sourced bench scale`).
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

EXACT_LIMIT = 50_000
TARGET_RECALL = 0.95
# nprobe is tuned to a little more than the target: tuned on one sample of queries and
# measured on another, the edge case landed at 0.941.
TUNING_RECALL = 0.96
KINDS = ("flat", "ivf-flat", "ivf-sq8", "ivf-pq", "hnsw")
_threads_lock = threading.Lock()


def choose_kind(n: int, requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    return "flat" if n <= EXACT_LIMIT else "ivf-sq8"


@dataclass
class BuiltIndex:
    index: Any
    kind: str
    params: dict[str, Any]
    seconds: float


def _nlist(n: int) -> int:
    # 2·sqrt(N) lists, trained on 40 points each: at 1M vectors on two cores 4·sqrt(N)
    # (the textbook figure) trained for several minutes; sqrt(N) trained in 60 s but
    # needed 12.8 ms a query; 2·sqrt(N) trains in about 2 minutes and answers in ~5 ms.
    return max(1, min(int(2 * math.sqrt(n)), n // 39 or 1))


def build(vectors: np.ndarray, kind: str = "auto", seed: int = 0) -> BuiltIndex:
    """An index over ``vectors`` (unit rows) whose ids are the row numbers."""

    started = time.perf_counter()
    use_all_cores()
    try:
        return _build(vectors, kind, seed, started)
    finally:
        single_thread_queries()


def _build(vectors: np.ndarray, kind: str, seed: int, started: float) -> BuiltIndex:
    import faiss
    import numpy as np

    n, dim = vectors.shape
    kind = choose_kind(n, kind)
    ids = np.arange(n, dtype=np.int64)
    params: dict[str, Any] = {}
    if kind == "flat" or n == 0:
        kind = "flat"
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if n:
            index.add_with_ids(vectors, ids)
    elif kind == "hnsw":
        params = {"M": 32, "efConstruction": 80, "efSearch": 64}
        inner = faiss.IndexHNSWFlat(dim, params["M"], faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = params["efConstruction"]
        inner.hnsw.efSearch = params["efSearch"]
        index = faiss.IndexIDMap2(inner)
        index.add_with_ids(vectors, ids)
    else:
        nlist = _nlist(n)
        quantizer = faiss.IndexFlatIP(dim)
        if kind == "ivf-flat":
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        elif kind == "ivf-sq8":
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        elif kind == "ivf-pq":
            index = faiss.IndexIVFPQ(quantizer, dim, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        rng = np.random.default_rng(seed)
        # 40 points per list is enough for k-means here and keeps training to minutes.
        train = vectors[rng.choice(n, size=nlist * 40, replace=False)] if n > nlist * 40 else vectors
        index.train(np.ascontiguousarray(train, dtype=np.float32))
        index.add_with_ids(vectors, ids)
        quantizer.is_trained = True
        params = {"nlist": nlist, "nprobe": tune_nprobe(index, vectors, rng)}
        index.nprobe = params["nprobe"]
    return BuiltIndex(index, kind, params, time.perf_counter() - started)


def tune_nprobe(index, vectors: np.ndarray, rng, queries: int = 200, k: int = 10) -> int:
    """Smallest nprobe whose recall@k vs exact search reaches TUNING_RECALL on sample queries."""
    import faiss
    import numpy as np

    n, dim = vectors.shape
    sample = vectors[rng.choice(n, size=min(queries, n), replace=False)]
    # Queries near, not on, stored vectors: like real questions, they match no row exactly.
    noisy = sample + rng.normal(scale=0.05, size=sample.shape).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    exact = faiss.IndexFlatIP(dim)
    exact.add(np.ascontiguousarray(vectors, dtype=np.float32))
    _, truth = exact.search(noisy, k)

    def recall(nprobe: int) -> float:
        index.nprobe = nprobe
        _, got = index.search(noisy, k)
        return float(np.mean([len(set(g) & set(t)) / k for g, t in zip(got, truth, strict=True)]))

    # Double until the target is reached, then bisect between the last two tries: each
    # probe fewer is a list fewer scanned per question.
    low, high = 0, 1
    while high < index.nlist and recall(high) < TUNING_RECALL:
        low, high = high, high * 2
    high = min(high, index.nlist)
    while high - low > 1:
        mid = (low + high) // 2
        if recall(mid) >= TUNING_RECALL:
            high = mid
        else:
            low = mid
    return high


def prepare_for_queries(index, params: dict[str, Any]) -> None:
    """Apply saved search parameters after loading an index from disk."""
    import faiss

    if "nprobe" in params:
        faiss.extract_index_ivf(index).nprobe = params["nprobe"]
    if "efSearch" in params:
        faiss.downcast_index(index.index).hnsw.efSearch = params["efSearch"]


def search_params(index, params: dict[str, Any], allowed: np.ndarray | None):
    import faiss
    import numpy as np

    selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64)) if allowed is not None else None
    if "nprobe" in params:
        return faiss.SearchParametersIVF(sel=selector, nprobe=params["nprobe"])
    if selector is None:
        return None
    return faiss.SearchParameters(sel=selector)


def single_thread_queries() -> None:
    """One OpenMP thread per FAISS search: a single query runs faster than on two busy cores
    (measured 0.6 vs 16 ms at 10k vectors); concurrent questions use the cores instead."""
    import faiss

    with _threads_lock:
        faiss.omp_set_num_threads(1)


def use_all_cores() -> None:
    """Training and adding vectors in bulk does use every core."""
    import faiss

    with _threads_lock:
        faiss.omp_set_num_threads(os.cpu_count() or 1)
