"""How many follow-up questions of data/followups.yaml are answered in the top 3: asked
alone, and through the follow-up path at several weights (bot.followup_weight).

    .venv/bin/python -m benchmarks.measure_followups [--json]

Builds the bundled articles' index with the configured model (the default: onnx-int8 with
the news adapter) in a temporary folder; prints one row per weight and what was missed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from retrieval.bench.evaluation import evaluate_followups, load_followups
from retrieval.config import build_config
from retrieval.embedding import configured_embedder
from retrieval.ingest.indexer import Indexer
from retrieval.paths import bundled_articles
from retrieval.query.service import QueryService
from retrieval.store import FolderStore

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = build_config({})
    embedder = configured_embedder(config.embedding)
    with tempfile.TemporaryDirectory() as tmp:
        store = FolderStore(Path(tmp) / "index")
        Indexer(config, store, embedder).run([bundled_articles()])
        service = QueryService(store, lambda: embedder, config.search)
        result = evaluate_followups(service, load_followups(ROOT / "data" / "followups.yaml"))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['pairs']} follow-ups; asked alone: {result['alone_top3']} in the top 3")
    for row in result["rows"]:
        print(f"  weight {row['weight']:.2f}: {row['top3']} in the top 3; missed: {row['missed']}")
    for searched in result["rows"][-2]["searched"]:
        print(f"    searched: {searched}")


if __name__ == "__main__":
    main()
