#!/usr/bin/env python
"""How the sentence in bold is chosen: its cosine, plus ``SENTENCE_COVERAGE`` × the share of
the question's words it holds (the asking words, who/which/is…, left out when
``SENTENCE_SKIPS_ASKING``), plus ``KIND_BONUS`` when it holds the kind of thing asked for
(retrieval/query/asked.py); the article's lead competes when ``LEAD_COMPETES``. Measured
where the answer is known:

- the news quiz (RealTime QA dev): when the question's own passage is shown (k 10), does
  its bold sentence hold the quiz answer; train (2020) to choose, test (2021) to report;
- name questions (``benchmarks/devsets/names-*.jsonl``): does the first shown bold
  sentence that comes from a passage holding the name hold it;
- the bundled eval (``data/questions.yaml``, reported only): an expected phrase in the bold
  sentence of one of the first three results, and hit@3 as ``sourced eval`` counts it.

Usage::

    .venv/bin/python -m benchmarks.tune_sentence ../shared/benchmarks/realtimeqa-dev [--grid C:B,C:B,...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

import retrieval.query.service as service_module
from retrieval.bench.beir import load_beir, prepare
from retrieval.bench.evaluation import evaluate, load_questions
from retrieval.config import load_config
from retrieval.embedding import configured_embedder
from retrieval.ingest.indexer import Indexer, bundled_articles
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from retrieval.wiring import bench_cache

ROOT = Path(__file__).resolve().parent.parent
DEVSETS = ROOT / "benchmarks" / "devsets"
GRID = "0.1:0,0.1:0.05,0.1:0.1,0.1:0.2,0.2:0,0.2:0.1,0.3:0,0.3:0.1"


def _bold(hit) -> str:
    return " ".join(hit.chunk.text[hit.highlight_start : hit.highlight_end].split()).lower()


def quiz(service, dataset, answers) -> dict:
    """``bold_holds_answer``: of the questions whose shown passage of the evidence article
    holds the answer, how many hold it in bold; ``passage_holds_answer``: of those whose
    evidence article is shown at all, how many show a passage holding the answer;
    ``shown_in_bold``: of those, how many show it in bold (what the reader sees)."""
    found, passage, bold = [], [], []
    for qid, text in dataset.queries.items():
        answer = answers.get(qid, "").strip().lower()
        if len(answer) < 3:
            continue
        wanted = set(dataset.qrels[qid])
        for hit in service.ask(text, k=10).hits:
            if hit.document.id in wanted:
                holds = answer in " ".join(hit.chunk.text.split()).lower()
                passage.append(holds)
                bold.append(answer in _bold(hit))
                if holds:
                    found.append(answer in _bold(hit))
                break

    def rate(values: list[bool]) -> float | None:
        return round(float(np.mean(values)), 4) if values else None

    return {
        "n": len(found),
        "bold_holds_answer": rate(found),
        "shown": len(passage),
        "passage_holds_answer": rate(passage),
        "shown_in_bold": rate(bold),
    }


def names(service, rows) -> dict:
    found = []
    for row in rows:
        name = row["name"].lower()
        for hit in service.ask(row["q"], k=5).hits:
            if name in " ".join(hit.chunk.text.split()).lower():
                found.append(name in _bold(hit))
                break
    return {"n": len(found), "bold_holds_name": round(float(np.mean(found)), 4) if found else None}


def bundled(service) -> dict:
    questions = [q for q in load_questions(ROOT / "data" / "questions.yaml") if q.expect]
    answers = [service.ask(q.q, k=5) for q in questions]
    bold = [
        any(any(e.lower() in _bold(h) for e in q.expect) for h in a.hits[:3])
        for q, a in zip(questions, answers, strict=True)
    ]
    report = evaluate(questions, answers).summary()
    return {"n": len(questions), "bold@3": round(float(np.mean(bold)), 4), "hit@3": report["hit@3"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument(
        "--grid",
        default=GRID,
        help="SENTENCE_COVERAGE:KIND_BONUS[:SKIPS_ASKING[:LEAD_COMPETES]] (flags 1 or 0; defaults 1 and 0), comma-separated",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    config = load_config()
    embedder = configured_embedder(config.embedding)
    train, test = load_beir(args.folder, "train"), load_beir(args.folder, "test")
    answers = {}
    for line in (args.folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            answers[d["_id"]] = str((d.get("metadata") or {}).get("answer") or "")
    run = prepare(test, args.folder, config, embedder, bench_cache(), sentences=True)
    rows = {
        s: [json.loads(x) for x in (DEVSETS / f"names-{s}.jsonl").read_text().splitlines() if x.strip()]
        for s in ("train", "test")
    }
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        store = FolderStore(Path(tmp))
        Indexer(config, store, embedder).run([bundled_articles()])
        pool = QueryService(FolderStore(run.snapshot.path.parent), lambda: embedder, config.search)
        small = QueryService(store, lambda: embedder, config.search)
        for pair in args.grid.split(","):
            coverage, bonus, *flags = (float(x) for x in pair.split(":"))
            service_module.SENTENCE_COVERAGE, service_module.KIND_BONUS = coverage, bonus
            service_module.SENTENCE_SKIPS_ASKING = bool(flags[0]) if flags else True
            service_module.LEAD_COMPETES = bool(flags[1]) if len(flags) > 1 else False
            row = {"sentence_coverage": coverage, "kind_bonus": bonus}
            row["skips_asking"] = service_module.SENTENCE_SKIPS_ASKING
            row["lead_competes"] = service_module.LEAD_COMPETES
            for split, dataset in (("train", train), ("test", test)):
                row[f"quiz_{split}"] = quiz(pool, dataset, answers)
                row[f"names_{split}"] = names(pool, rows[split])
            row["bundled"] = bundled(small)
            results.append(row)
            print(json.dumps(row), flush=True)
    out = args.out or ROOT / "benchmarks" / "results" / f"tune-sentence-folder-{date.today().isoformat()}.json"
    out.write_text(
        json.dumps({"date": date.today().isoformat(), "model": embedder.model_id, "grid": results}, indent=1) + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
