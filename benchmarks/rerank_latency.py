#!/usr/bin/env python
"""Warm question time with the answer re-ranker off and on, at k 5 and 100.

    PYTHONPATH=. .venv/bin/python benchmarks/rerank_latency.py

Indexes the bundled articles with the configured model in a temporary folder and asks every
question of data/questions.yaml three times through ``QueryService.ask`` (no CLI start-up),
printing the p50 per setting. With ``search.rerank`` on it needs the re-ranker's weights
(``benchmarks/train_reranker.py``).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from retrieval.bench.evaluation import load_questions
from retrieval.config import load_config, replace
from retrieval.embedding import configured_embedder
from retrieval.ingest.indexer import Indexer, bundled_articles
from retrieval.query.service import QueryService
from retrieval.store import FolderStore

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    config = load_config()
    embedder = configured_embedder(config.embedding)
    questions = [q.q for q in load_questions(ROOT / "data" / "questions.yaml")]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = FolderStore(Path(tmp))
        Indexer(config, store, embedder).run([bundled_articles()])
        for rerank in (False, True):
            service = QueryService(store, lambda: embedder, replace(config, search={"rerank": rerank}).search)
            for k in (5, 100):
                service.ask(questions[0], k=k)  # warm up
                times = []
                for _ in range(3):
                    for q in questions:
                        started = time.perf_counter()
                        service.ask(q, k=k)
                        times.append((time.perf_counter() - started) * 1000)
                out[f"rerank={rerank} k={k}"] = {"p50_ms": round(statistics.median(times), 2), "n": len(times)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
