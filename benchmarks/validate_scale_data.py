"""Do the vectors `sourced bench scale` runs on behave like real ones? Prints the check.

Real passage vectors exist only as far as a corpus has been embedded (22,320 for
SciFact), so the 1M-vector benchmark grows them (`speed.expand_vectors`) and the index
tunes itself on made-up questions (`vectors.tuning_queries`). Both are checked here
against the real thing at the size where the real thing exists:

1. growth: grow a random 5,000 (and 1,000) of the real passages back to the full count
   and compare how IVF and HNSW search them with how they search the real passages,
   queried by the real questions; the old synthetic generator is shown beside them;
2. tuning queries: recall by nprobe on the real passages for the real questions, the
   tuning queries, and the first tuning queries (stored rows plus small noise).

Usage: .venv/bin/python -m benchmarks.validate_scale_data ../shared/benchmarks/scifact
(embeds the corpus once, cached like `sourced bench beir`; then about a minute).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import faiss  # noqa: TID253 - a script, not the library: nothing to keep fast at import
import numpy as np

from retrieval.bench.scale import clustered_vectors, corpus_vectors, expand_vectors
from retrieval.config import load_config
from retrieval.embedding import configured_embedder
from retrieval.paths import cache_dir
from retrieval.store.folder.vectors import tuning_queries

NPROBES = (1, 4, 16, 32, 64)
EFS = (16, 32, 64)


def _recall(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(g) & set(t)) / truth.shape[1] for g, t in zip(got, truth, strict=True)]))


def _near(data: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """Stored rows plus small isotropic noise: about cosine 0.7 from one of them."""
    rows = data[rng.choice(len(data), size=count, replace=False)]
    moved = rows + rng.normal(scale=0.05, size=rows.shape)
    return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


def profile(data: np.ndarray, queries: np.ndarray) -> dict[str, float]:
    """Top-1 and top-10 similarity of the queries, IVF recall@10 by nprobe (2*sqrt(N)
    lists, as the product builds), HNSW (M=16) recall@10 by efSearch."""
    n, dim = data.shape
    exact = faiss.IndexFlatIP(dim)
    exact.add(data)
    sims, truth = exact.search(queries, 10)
    out = {"top1": float(np.median(sims[:, 0])), "top10": float(np.median(sims[:, 9]))}
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, int(2 * math.sqrt(n)), faiss.METRIC_INNER_PRODUCT)
    ivf.train(data)
    ivf.add(data)
    for nprobe in NPROBES:
        ivf.nprobe = nprobe
        out[f"ivf@{nprobe}"] = _recall(ivf.search(queries, 10)[1], truth)
    hnsw = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(data)
    for ef in EFS:
        hnsw.hnsw.efSearch = ef
        out[f"hnsw@{ef}"] = _recall(hnsw.search(queries, 10)[1], truth)
    return out


def _table(rows: dict[str, dict[str, float]]) -> None:
    columns = list(next(iter(rows.values())))
    print("| data | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |")


def main(folder: Path) -> None:
    config = load_config(None)
    embedder = configured_embedder(config.embedding)
    passages, questions = corpus_vectors(folder, config, embedder, cache_dir() / "bench")
    passages = np.ascontiguousarray(passages, dtype=np.float32)
    questions = np.ascontiguousarray(questions, dtype=np.float32)
    n = len(passages)
    rng = np.random.default_rng(0)
    faiss.omp_set_num_threads(2)
    print(f"## Growth: {n:,} vectors, {len(questions):,} real questions as queries\n")
    rows = {f"real ({n:,} passages)": profile(passages, questions)}
    for m in (5000, 1000):
        seed = passages[rng.choice(n, size=m, replace=False)]
        rows[f"{m:,} real grown to {n:,}"] = profile(expand_vectors(seed, n, rng), questions)
    # Synthetic vectors live in no real space: they are queried as the bench queries them.
    synthetic, srng = clustered_vectors(n)
    rows["synthetic clustered, own queries"] = profile(synthetic, _near(synthetic, srng, 1000))
    _table(rows)

    print(f"\n## Tuning queries on the real {n:,} passages\n")
    _table(
        {
            "real questions": profile(passages, questions),
            "tuning queries (row + row - row)": profile(passages, tuning_queries(passages, rng, 500)),
            "first tuning queries (row + noise)": profile(passages, _near(passages, rng, 500)),
        }
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
