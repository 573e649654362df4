#!/usr/bin/env python
"""What deciding `answered` with the answer model, and choosing the bold sentence by the
kind of thing asked, cost per question: warm time beside the cosine rule, in one run.

    .venv/bin/python -m benchmarks.answered_latency [--rounds 5]

Indexes the bundled articles with the configured model in a temporary folder and asks
every question of data/questions.yaml through ``QueryService.ask`` (no CLI start-up) at
k 5 and 100, under three settings taken in turn each round so that a busy machine slows
all alike:

- ``baseline``: ``search.answer_model: false`` and no kind check (``KIND_BONUS`` 0): the
  cosine rule, as before issue 29's third round;
- ``model``: the answer model on, no kind check;
- ``default``: both (the shipped default).

Prints p50 and mean per setting and k, and each setting's p50 as a ratio to the baseline's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from retrieval.bench.evaluation import load_questions
from retrieval.config import load_config, replace
from retrieval.embedding import configured_embedder
from retrieval.ingest.indexer import Indexer, bundled_articles
from retrieval.query import service as service_module
from retrieval.query.service import QueryService
from retrieval.store import FolderStore

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"baseline": (False, 0.0), "model": (True, 0.0), "default": (True, service_module.KIND_BONUS)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    config = load_config()
    embedder = configured_embedder(config.embedding)
    questions = [q.q for q in load_questions(ROOT / "data" / "questions.yaml")]
    times: dict[str, list[float]] = {}
    kind_bonus = service_module.KIND_BONUS
    with tempfile.TemporaryDirectory() as tmp:
        store = FolderStore(Path(tmp))
        Indexer(config, store, embedder).run([bundled_articles()])
        services = {
            name: QueryService(store, lambda: embedder, replace(config, search={"answer_model": model}).search)
            for name, (model, _) in SETTINGS.items()
        }
        try:
            for name, service in services.items():  # warm up: model, snapshot, answer model file
                service_module.KIND_BONUS = SETTINGS[name][1]
                service.ask(questions[0], k=100)
            for _ in range(args.rounds):
                for name, service in services.items():
                    service_module.KIND_BONUS = SETTINGS[name][1]
                    for k in (5, 100):
                        for q in questions:
                            started = time.perf_counter()
                            service.ask(q, k=k)
                            times.setdefault(f"{name} k={k}", []).append((time.perf_counter() - started) * 1000)
        finally:
            service_module.KIND_BONUS = kind_bonus
    out: dict = {"date": date.today().isoformat(), "questions": len(questions), "rounds": args.rounds}
    for key, values in times.items():
        out[key] = {"p50_ms": round(statistics.median(values), 2), "mean_ms": round(statistics.fmean(values), 2)}
    for key in times:
        name, k = key.split(" ")
        out[key]["ratio_to_baseline"] = round(out[key]["p50_ms"] / out[f"baseline {k}"]["p50_ms"], 3)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
