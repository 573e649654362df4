"""Embedding throughput of the Ray engine against a plain local run, on the same texts.

    .venv/bin/python -m benchmarks.ray_throughput [--texts 3000] [--workers 1 2] [--address HOST:PORT]

Texts are passages of the bundled articles, repeated and varied to the number asked.
Prints texts/s for the local embedder and for each Ray actor count (a local Ray unless
--address), each with its ratio to the local run, and checks the vectors are equal.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from retrieval.config import build_config
from retrieval.embedding import configured_embedder
from retrieval.embedding.distributed import RayEmbedder
from retrieval.ingest.chunking import sentence_spans
from retrieval.ingest.indexer import Indexer
from retrieval.paths import bundled_articles
from retrieval.store import FolderStore


def texts(n: int) -> list[str]:
    import tempfile
    from pathlib import Path

    from retrieval.embedding import HashEmbedder

    docs = (
        Indexer(build_config({}), FolderStore(Path(tempfile.mkdtemp()) / "i"), HashEmbedder())
        .read([bundled_articles()])
        .documents
    )
    pool = [d.text[a:b] for d in docs for a, b in sentence_spans(d.text)]
    return [f"{pool[i % len(pool)]} ({i})" for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--address")
    args = parser.parse_args()
    config = build_config({})
    local = configured_embedder(config.embedding)
    sample = texts(args.texts)
    local.embed(sample[:64])  # warm
    started = time.perf_counter()
    reference = local.embed(sample, config.embedding.batch_size)
    local_s = time.perf_counter() - started
    rows = [{"engine": "local", "workers": 1, "texts_per_s": round(len(sample) / local_s, 1), "ratio": 1.0}]
    for workers in args.workers:
        ray_embedder = RayEmbedder(local, config.embedding.model, config.embedding.backend, args.address, workers)
        ray_embedder.embed(sample[:64])  # start Ray and the actors' models
        started = time.perf_counter()
        vectors = ray_embedder.embed(sample, config.embedding.batch_size)
        seconds = time.perf_counter() - started
        rows.append(
            {
                "engine": "ray",
                "workers": workers,
                "texts_per_s": round(len(sample) / seconds, 1),
                "ratio": round(local_s / seconds, 2),
                "max_abs_diff": float(np.abs(vectors - reference).max()),
            }
        )
    print(
        json.dumps({"texts": len(sample), "model": local.model_id, "backend": config.embedding.backend, "rows": rows})
    )


if __name__ == "__main__":
    main()
