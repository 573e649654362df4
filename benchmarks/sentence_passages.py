#!/usr/bin/env python
"""How many of an article's best passages compete for the one shown
(``search.sentence_passages``), and whether its first passage competes too
(``LEAD_COMPETES``): on the bundled eval (an expected phrase in the bold sentence of one of
the first three results, hit@3), the follow-up set (``data/followups.yaml``, in the top 3
through the conversation) and the dev name questions (the bold sentence of the first
passage holding the name holds it). The quiz does not move: each of its passages is an
article of its own. Usage::

    .venv/bin/python -m benchmarks.sentence_passages ../shared/benchmarks/realtimeqa-dev [--grid 3:0,4:0,5:0,3:1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import date
from pathlib import Path

import retrieval.query.service as service_module
from benchmarks.tune_sentence import DEVSETS, bundled, names
from retrieval.bench.beir import load_beir, prepare
from retrieval.bench.evaluation import evaluate_followups, load_followups
from retrieval.config import load_config, replace
from retrieval.embedding import configured_embedder
from retrieval.ingest.indexer import Indexer, bundled_articles
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from retrieval.wiring import bench_cache

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ("who urged Amazon to stop selling Rekognition?", "Which companies received the coalition's letters?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--grid", default="3:0,4:0,5:0,6:0,3:1", help="PASSAGES:LEAD (lead 1 or 0), comma-separated")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    config = load_config()
    embedder = configured_embedder(config.embedding)
    run = prepare(load_beir(args.folder, "test"), args.folder, config, embedder, bench_cache(), sentences=True)
    rows = {
        s: [json.loads(x) for x in (DEVSETS / f"names-{s}.jsonl").read_text().splitlines() if x.strip()]
        for s in ("train", "test")
    }
    followups = load_followups(ROOT / "data" / "followups.yaml")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        store = FolderStore(Path(tmp))
        Indexer(config, store, embedder).run([bundled_articles()])
        for spec in args.grid.split(","):
            passages, lead = (int(x) for x in spec.split(":"))
            service_module.LEAD_COMPETES = bool(lead)
            search = replace(config, search={"sentence_passages": passages}).search
            small = QueryService(store, lambda: embedder, search)
            pool = QueryService(FolderStore(run.snapshot.path.parent), lambda: embedder, search)
            follow = evaluate_followups(small, followups, weights=(config.bot.followup_weight,))["rows"][0]
            row = {
                "sentence_passages": passages,
                "lead_competes": bool(lead),
                "bundled": bundled(small),
                "followups_top3": follow["top3"],
                "followups_missed": follow["missed"],
                "names_train": names(pool, rows["train"]),
                "names_test": names(pool, rows["test"]),
                "bold": {
                    q: [
                        " ".join(h.chunk.text[h.highlight_start : h.highlight_end].split())[:80]
                        for h in small.ask(q, k=3).hits
                    ]
                    for q in QUESTIONS
                },
            }
            results.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    service_module.LEAD_COMPETES = False
    out = args.out or ROOT / "benchmarks" / "results" / f"sentence-passages-folder-{date.today().isoformat()}.json"
    out.write_text(
        json.dumps(
            {"date": date.today().isoformat(), "model": embedder.model_id, "grid": results},
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
