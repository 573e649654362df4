"""The FAISS side of the index: which index type, how it is built, searched and tuned.

Below ``EXACT_LIMIT`` vectors the index is exact (flat inner product): at that size a
query costs a few milliseconds and approximate search would only lose recall. Above it,
an inverted-file index (IVF) with 8-bit scalar-quantised vectors keeps memory at a
quarter and queries in milliseconds; its ``nprobe`` is tuned at build time until
recall@10 against exact search reaches ``TUNING_RECALL`` (a margin above the 0.95 target) on
question-like queries made from the stored vectors. Numbers behind these choices:
docs/scale.md (`sourced bench scale`).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from retrieval.registry import Registry

if TYPE_CHECKING:
    import numpy as np

EXACT_LIMIT = 50_000
TARGET_RECALL = 0.95
# Tuned above the target: made-up questions only approximate real ones. Tuned to 0.96,
# real SciFact questions on 1M grown passage vectors got 0.951; to 0.97, 0.96.
TUNING_RECALL = 0.97
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
    # (the textbook figure) trained for several minutes; on the first (synthetic) 1M
    # benchmark sqrt(N) needed 12.8 ms a query and 2·sqrt(N) 5.8 ms; 3·sqrt(N) was no
    # faster and trained 50% longer (docs/scale.md).
    return max(1, min(int(2 * math.sqrt(n)), n // 39 or 1))


def build(vectors: np.ndarray, kind: str = "auto", seed: int = 0) -> BuiltIndex:
    """An index over ``vectors`` (unit rows) whose ids are the row numbers."""

    started = time.perf_counter()
    use_all_cores()
    try:
        return _build(vectors, kind, seed, started)
    finally:
        single_thread_queries()


class KindFactory(Protocol):
    def __call__(self, vectors: np.ndarray, rng: Any) -> tuple[Any, dict[str, Any]]: ...


# name -> factory(vectors, rng) -> (FAISS index whose ids are row numbers, its settings)
VECTOR_KINDS: Registry[KindFactory] = Registry("index kind")


@VECTOR_KINDS.register("flat")
def _flat(vectors: np.ndarray, rng: Any) -> tuple[Any, dict[str, Any]]:
    import faiss
    import numpy as np

    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    if len(vectors):
        index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    return index, {}


def _ivf(make: Callable[[Any, int, int], Any]) -> KindFactory:
    """An IVF kind: ``make(quantizer, dim, nlist)`` gives the empty index; training, adding
    and nprobe tuning are shared."""

    def factory(vectors: np.ndarray, rng: Any) -> tuple[Any, dict[str, Any]]:
        import faiss
        import numpy as np

        n, dim = vectors.shape
        nlist = _nlist(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = make(quantizer, dim, nlist)
        # 40 points per list is enough for k-means here and keeps training to minutes.
        train = vectors[rng.choice(n, size=nlist * 40, replace=False)] if n > nlist * 40 else vectors
        index.train(np.ascontiguousarray(train, dtype=np.float32))
        index.add_with_ids(vectors, np.arange(n, dtype=np.int64))
        quantizer.is_trained = True
        params = {"nlist": nlist, "nprobe": tune_nprobe(index, vectors, rng)}
        index.nprobe = params["nprobe"]
        return index, params

    return factory


def _ivf_flat(quantizer: Any, dim: int, nlist: int) -> Any:
    import faiss

    return faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)


def _ivf_sq8(quantizer: Any, dim: int, nlist: int) -> Any:
    import faiss

    return faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )


def _ivf_pq(quantizer: Any, dim: int, nlist: int) -> Any:
    import faiss

    return faiss.IndexIVFPQ(quantizer, dim, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT)


VECTOR_KINDS.add("ivf-flat", _ivf(_ivf_flat))
VECTOR_KINDS.add("ivf-sq8", _ivf(_ivf_sq8))
VECTOR_KINDS.add("ivf-pq", _ivf(_ivf_pq))


@VECTOR_KINDS.register("hnsw")
def _hnsw(vectors: np.ndarray, rng: Any) -> tuple[Any, dict[str, Any]]:
    import faiss
    import numpy as np

    params: dict[str, Any] = {"M": 32, "efConstruction": 80}
    inner = faiss.IndexHNSWFlat(vectors.shape[1], params["M"], faiss.METRIC_INNER_PRODUCT)
    inner.hnsw.efConstruction = params["efConstruction"]
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    params["efSearch"] = tune_ef_search(inner, vectors, rng)
    inner.hnsw.efSearch = params["efSearch"]
    return index, params


def _build(vectors: np.ndarray, kind: str, seed: int, started: float) -> BuiltIndex:
    import numpy as np

    kind = choose_kind(len(vectors), kind)
    if len(vectors) == 0:
        kind = "flat"  # nothing to train an approximate index on
    try:
        factory = VECTOR_KINDS.get(kind)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    index, params = factory(vectors, np.random.default_rng(seed))
    return BuiltIndex(index, kind, params, time.perf_counter() - started)


# Enough made-up questions that the tuned setting does not swing with the sample: with
# 200, ivf-flat at 1M tuned to nprobe 8 where real questions needed 16.
TUNING_QUERIES = 1000


def tuning_queries(vectors: np.ndarray, rng, queries: int = TUNING_QUERIES) -> np.ndarray:
    """Question-like query vectors made from the stored ones.

    A question rarely sits on one passage: it lies away from the passages by about the
    spread between passages. So each is a stored row moved by the difference of two
    other random rows. On the 22k real SciFact passage vectors they follow the real
    questions' recall-by-nprobe curve within 0.01 from nprobe 4 up, where rows plus small
    isotropic noise (the first choice) were far too easy: at 1M they set nprobe to 4
    where real questions needed 16-32 (docs/scale.md). For HNSW they are harder than
    real questions, so efSearch comes out high: safe, not fast."""
    import numpy as np

    n = len(vectors)
    picks = rng.choice(n, size=(3, min(queries, n)))
    moved = vectors[picks[0]] + vectors[picks[1]] - vectors[picks[2]]
    norms = np.maximum(np.linalg.norm(moved, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(moved / norms, dtype=np.float32)


def tune(search: Callable[[int], np.ndarray], truth: np.ndarray, upper: int) -> int:
    """Smallest setting in 1..upper whose recall@k against ``truth`` reaches TUNING_RECALL.

    ``search(value)`` returns the ids found with the setting (nprobe, efSearch) at value;
    recall grows with it, so double until the target is reached, then bisect between the
    last two tries: each step fewer is work saved on every question. Bisection stops
    within 1/16 of the value: near the top every try searches most of the index, and on
    hard data (synthetic noise at 1M) exact bisection made the build take 11 minutes."""
    import numpy as np

    k = truth.shape[1]

    def recall(value: int) -> float:
        got = search(value)
        return float(np.mean([len(set(g) & set(t)) / k for g, t in zip(got, truth, strict=True)]))

    low, high = 0, 1
    while high < upper and recall(high) < TUNING_RECALL:
        low, high = high, high * 2
    high = min(high, upper)
    while high - low > max(1, low // 16):
        mid = (low + high) // 2
        if recall(mid) >= TUNING_RECALL:
            high = mid
        else:
            low = mid
    return high


def _exact_ids(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    import faiss
    import numpy as np

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return exact.search(queries, k)[1]


def tune_nprobe(index, vectors: np.ndarray, rng, k: int = 10) -> int:
    queries = tuning_queries(vectors, rng)
    truth = _exact_ids(vectors, queries, k)

    def search(nprobe: int) -> np.ndarray:
        index.nprobe = nprobe
        return index.search(queries, k)[1]

    return tune(search, truth, index.nlist)


def tune_ef_search(hnsw_index, vectors: np.ndarray, rng, k: int = 10) -> int:
    queries = tuning_queries(vectors, rng)
    truth = _exact_ids(vectors, queries, k)

    def search(ef: int) -> np.ndarray:
        hnsw_index.hnsw.efSearch = max(ef, k)
        return hnsw_index.search(queries, k)[1]

    return max(tune(search, truth, 4096), k)


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
