#!/usr/bin/env python
"""Name questions asked the way people ask them: "Tell me about NAME.", "Who is NAME
exactly?", "What do you know about NAME?", "Please tell me who NAME is.".

The names of ``benchmarks/devsets/names-{train,test}.jsonl`` (right: a passage holding the
name in the top 3; answered) and of ``unknown-names-*.jsonl`` (should abstain), each in
every form, over the RealTime QA dev pool (indexed once, cached). Usage::

    .venv/bin/python -m benchmarks.name_phrasings ../shared/benchmarks/realtimeqa-dev [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from retrieval.bench.beir import load_beir, prepare
from retrieval.config import load_config
from retrieval.embedding import configured_embedder
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from retrieval.wiring import bench_cache

ROOT = Path(__file__).resolve().parent.parent
DEVSETS = ROOT / "benchmarks" / "devsets"
FORMS = ("Tell me about {}.", "Who is {} exactly?", "What do you know about {}?", "Please tell me who {} is.")


def _rows(name: str) -> list[dict]:
    return [json.loads(x) for x in (DEVSETS / name).read_text(encoding="utf-8").splitlines() if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    config = load_config()
    embedder = configured_embedder(config.embedding)
    run = prepare(load_beir(args.folder, "test"), args.folder, config, embedder, bench_cache(), sentences=True)
    service = QueryService(FolderStore(run.snapshot.path.parent), lambda: embedder, config.search)
    out: dict[str, dict] = {}
    for split in ("train", "test"):
        names, unknown = _rows(f"names-{split}.jsonl"), _rows(f"unknown-names-{split}.jsonl")
        for form in FORMS:
            hit = answered = 0
            for row in names:
                answer = service.ask(form.format(row["name"]), k=5)
                hit += any(row["name"].lower() in h.text.lower() for h in answer.hits[:3])
                answered += answer.answered
            abstained = sum(not service.ask(form.format(r["name"]), k=5).answered for r in unknown)
            out[f"{split} {form}"] = {
                "names_hit@3": round(hit / len(names), 3),
                "names_answered": round(answered / len(names), 3),
                "unknown_abstained": round(abstained / len(unknown), 3),
            }
            print(f"{split} {form:<30} {out[f'{split} {form}']}", flush=True)
    path = args.out or ROOT / "benchmarks" / "results" / f"name-phrasings-folder-{date.today().isoformat()}.json"
    payload = {"date": date.today().isoformat(), "model": embedder.model_id, "rows": out}
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
