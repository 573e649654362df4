"""Warm question latency of the two stores on the same collection, in the same run: the
folder of segments (the baseline) and PostgreSQL at URL. The hash embedder builds both
indexes in seconds and costs nothing per question, so the figures are the stores' own
(search, BM25, fetching passages, sentences and documents), not the model's.

    .venv/bin/python -m benchmarks.store_latency postgresql://sourced@127.0.0.1:55432/sourced \
        [--corpus CORPUS.jsonl] [--rounds 20] [--json]

Without --corpus: the bundled articles. A BEIR corpus.jsonl (title, text per line) makes
a larger collection. Prints p50/p95 per store and depth (k 5 and k 100) and the ratio to
the folder store.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.latency import QUESTIONS as BUNDLED_QUESTIONS
from retrieval.config import build_config
from retrieval.embedding import HashEmbedder
from retrieval.ingest.indexer import Indexer
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from retrieval.store.postgres.store import PgStore

# latency.py's questions of the bundled articles, and some of SciFact's kind.
QUESTIONS = [
    *BUNDLED_QUESTIONS,
    "Does vitamin D reduce the risk of fractures?",
    "Which genes are linked to breast cancer?",
    "How does the immune system respond to a virus?",
]


def _documents(corpus: Path | None):
    from retrieval.types import Document

    if corpus is None:
        return None
    docs = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            docs.append(Document(id=f"c-{row['_id']}", title=row.get("title") or row["_id"], text=row["text"]))
    return docs


def _measure(service: QueryService, k: int, rounds: int) -> dict[str, float]:
    service.ask(QUESTIONS[0], k=k)  # warm: connections, caches
    times = []
    for _ in range(rounds):
        for question in QUESTIONS:
            started = time.perf_counter()
            service.ask(question, k=k)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = build_config({"embedding": {"model": "hash"}})
    documents = _documents(args.corpus)
    root = Path(tempfile.mkdtemp(prefix="store-latency-"))
    schema = f"latency_{uuid.uuid4().hex[:8]}"
    stores = {"folder": FolderStore(root / "folder"), "postgresql": PgStore(args.url, root / "state", schema)}
    result: dict[str, object] = {"corpus": str(args.corpus or "bundled articles"), "rounds": args.rounds}
    for name, store in stores.items():
        indexer = Indexer(config, store, HashEmbedder())
        started = time.perf_counter()
        if documents is None:
            from retrieval.paths import bundled_articles

            report = indexer.run([bundled_articles()])
        else:
            report = indexer.index_documents(documents, label=str(args.corpus))
        build_s = time.perf_counter() - started
        service = QueryService(store, HashEmbedder, config.search)
        result[name] = {
            "passages": report.chunks,
            "build_s": round(build_s, 2),
            "k5": _measure(service, 5, args.rounds),
            "k100": _measure(service, 100, args.rounds),
        }
    base, pg = result["folder"], result["postgresql"]
    for k in ("k5", "k100"):
        pg[k]["p50_vs_folder"] = round(pg[k]["p50_ms"] / base[k]["p50_ms"], 2)
    with stores["postgresql"]._write_connection() as conn:  # leave the database as it was
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    stores["postgresql"].close()
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['corpus']}: {base['passages']} passages, {args.rounds} rounds of {len(QUESTIONS)} questions")
    for name in stores:
        row = result[name]
        print(
            f"  {name:10} build {row['build_s']:7.2f} s   k 5: p50 {row['k5']['p50_ms']:7.2f} ms "
            f"p95 {row['k5']['p95_ms']:7.2f}   k 100: p50 {row['k100']['p50_ms']:7.2f} ms p95 {row['k100']['p95_ms']:7.2f}"
        )
    print(f"  PostgreSQL / folder p50: k 5 {pg['k5']['p50_vs_folder']}x, k 100 {pg['k100']['p50_vs_folder']}x")


if __name__ == "__main__":
    main()
