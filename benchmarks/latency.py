"""Warm question latency of one index folder built with the hash embedder (no model load),
so two stores can be compared like for like:

    .venv/bin/python -m benchmarks.latency INDEX_DIR [ROUNDS]

To compare with an earlier version, index the same folder with each and run this script
from each version's checkout (PYTHONPATH=that checkout): it reads either store.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from retrieval.config import build_config
from retrieval.embedding import HashEmbedder
from retrieval.query.service import QueryService

try:
    from retrieval.store import FolderStore
except ImportError:  # versions before the segment store
    from retrieval.index import FolderStore  # type: ignore[no-redef]

QUESTIONS = [
    "who urged Amazon to stop selling Rekognition?",
    "How inaccurate was the Metropolitan Police's facial recognition?",
    "Which city moved to ban facial recognition?",
    "Why did the IRS drop its facial recognition system?",
    "what is a good banana bread recipe?",
]


def main() -> None:
    folder = Path(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    config = build_config({"embedding": {"model": "hash"}})
    embedder = HashEmbedder()
    service = QueryService(FolderStore(folder), lambda: embedder, config.search)
    service.ask(QUESTIONS[0])  # warm
    times = []
    for _ in range(rounds):
        for question in QUESTIONS:
            started = time.perf_counter()
            service.ask(question)
            times.append((time.perf_counter() - started) * 1000)
    print(f"{folder}: p50 {statistics.median(times):.2f} ms over {len(times)} questions")


if __name__ == "__main__":
    main()
