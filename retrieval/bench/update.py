"""`sourced bench update`: what adding a few articles to a large collection costs, next to
building and rebuilding it whole.

The collection is made of articles whose sentences are drawn (seeded) from the bundled
articles, written as one JSONL file of a registered folder, so every figure comes from
the same `sourced index` / `sourced add` path a user runs: build time, bytes at rest per
passage, then an add of K new articles (time, disk growth), the warm question latency
before and after, and a full rebuild of the same collection as the baseline.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retrieval.bench.speed import BENCH_QUESTIONS, _latency
from retrieval.config import Config
from retrieval.embedding import Embedder
from retrieval.ingest.chunking import sentence_spans
from retrieval.ingest.indexer import Indexer
from retrieval.ingest.progress import NoProgress
from retrieval.paths import bundled_articles
from retrieval.query.service import QueryService
from retrieval.store import FolderStore

SENTENCES_PER_ARTICLE = 18  # about four 128-token passages


def _sentence_pool(indexer: Indexer) -> list[str]:
    docs = indexer.read([bundled_articles()]).documents
    pool = [d.text[a:b].strip() for d in docs for a, b in sentence_spans(d.text)]
    return [s for s in pool if len(s.split()) >= 6]


def write_articles(folder: Path, n: int, pool: list[str], seed: int, prefix: str) -> None:
    """``n`` articles of sentences drawn from ``pool``, as one JSONL file in ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "articles.jsonl", "w", encoding="utf-8") as f:
        for i in range(n):
            text = " ".join(rng.choice(pool) for _ in range(SENTENCES_PER_ARTICLE))
            record = {
                "title": f"{prefix} report {i}: " + " ".join(rng.choice(pool).split()[:6]),
                "text": text,
                "url": f"https://bench.example/{prefix}/{i}",
                "outlet": f"Outlet {i % 50}",
            }
            f.write(json.dumps(record) + "\n")


def bench_update(
    config: Config,
    embedder_factory: Callable[[], Embedder],
    passages: int,
    add: int,
    rebuild: bool = True,
    log: Callable[[str], None] = lambda _m: None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    embedder = embedder_factory()
    with tempfile.TemporaryDirectory(prefix="sourced-bench-update-", dir=workdir) as tmp_name:
        tmp = Path(tmp_name)
        store = FolderStore(tmp / "index")
        indexer = Indexer(config, store, embedder)
        pool = _sentence_pool(indexer)
        # Articles run to about four passages; make enough of them for ``passages``.
        probe = tmp / "probe"
        write_articles(probe, 20, pool, seed=1, prefix="probe")
        per_article = max(1.0, Indexer(config, FolderStore(tmp / "probe-index"), embedder).run([probe]).chunks / 20)
        articles = max(1, round(passages / per_article))
        collection = tmp / "collection"
        write_articles(collection, articles, pool, seed=2, prefix="base")
        log(f"build: {articles} articles (about {passages} passages) with {embedder.model_id}")
        started = time.perf_counter()
        built = indexer.run([collection], progress=NoProgress())
        build_s = time.perf_counter() - started
        size = store.disk_bytes()
        log(f"built {built.chunks} passages in {build_s:.1f} s; {size / 2**20:.1f} MB")
        service = QueryService(store, lambda: embedder, config.search)
        before = _latency(service, BENCH_QUESTIONS, rounds=5)
        new = tmp / "new-articles"
        write_articles(new, add, pool, seed=3, prefix="new")
        log(f"add: {add} article(s)")
        started = time.perf_counter()
        added = indexer.add([new], progress=NoProgress())
        add_s = time.perf_counter() - started
        grown = store.disk_bytes() - size
        after = _latency(service, BENCH_QUESTIONS, rounds=5)
        result: dict[str, Any] = {
            "model": embedder.model_id,
            "passages": built.chunks,
            "articles": built.documents,
            "build_s": round(build_s, 2),
            "bytes_per_passage": round(size / max(built.chunks, 1)),
            "index_mb": round(size / 2**20, 2),
            "added_articles": added.added,
            "added_passages": added.chunks - built.chunks,
            "add_s": round(add_s, 3),
            "add_vs_build": round(add_s / build_s, 4),
            "disk_growth_mb": round(grown / 2**20, 3),
            "disk_growth_vs_size": round(grown / size, 4),
            "segments_after_add": added.segments,
            "query_p50_ms_before": before["p50_ms"],
            "query_p50_ms_after": after["p50_ms"],
            "query_p50_after_vs_before": round(after["p50_ms"] / before["p50_ms"], 3) if before["p50_ms"] else None,
        }
        if rebuild:
            log("rebuild: the whole collection again, as every update used to")
            started = time.perf_counter()
            indexer.run(progress=NoProgress(), rebuild=True)
            rebuild_s = time.perf_counter() - started
            result.update({"rebuild_s": round(rebuild_s, 2), "add_vs_rebuild": round(add_s / rebuild_s, 4)})
        return result
