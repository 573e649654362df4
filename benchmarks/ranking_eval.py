#!/usr/bin/env python
"""Issue 29 in one run: every kind of question, for each ranking variant.

For each variant (``search`` settings over the configured ones) it reports:

- name questions (``benchmarks/devsets/names-*.jsonl``): hit@1 and hit@3 (a shown passage
  contains the name), and the share answered, train and test;
- unknown names (``unknown-names-*.jsonl``): the share abstained;
- the news quiz (RealTime QA dev): MRR@10 as ``sourced bench beir`` computes it (documents
  ranked by their best passage out of ``ranking.retrieve``) and the share answered;
- on-topic unanswerable quiz questions (``quiz-unanswerable-*.jsonl``: the question asked
  with its evidence filtered out, no other passage holding the answer): share abstained;
- small topical collections (``desks-*.jsonl``, each indexed on its own by
  ``benchmarks/desks.py``): the share answered with the evidence in, abstained without;
- off-topic (``data/calibration-offtopic.txt``, asked of the dev pool and of the bundled
  articles): share abstained;
- the bundled eval (``data/questions.yaml``, test) and the hand-written bundled
  unanswerable train questions (``benchmarks/devsets/bundled-unanswerable-train.yaml``);
- the warm question time on the bundled articles (mean and p50 over the bundled eval).

Indexes are built once (the dev pool in the bench cache as ``sourced bench beir`` keeps it,
with sentence vectors; the bundled articles in a temporary folder) and question vectors
are embedded once for all variants. Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/ranking_eval.py ../shared/benchmarks/realtimeqa-dev \\
        [--variants default,bm25,dense] [--out benchmarks/results/ranking-eval-folder-<date>.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.desks import MemoEmbedder, ask_desks, load_desks
from retrieval.bench.beir import load_beir, prepare
from retrieval.bench.evaluation import evaluate, load_questions
from retrieval.bench.metrics import mrr_at_k
from retrieval.config import load_config, replace
from retrieval.embedding import configured_embedder
from retrieval.ingest.indexer import Indexer, bundled_articles
from retrieval.query.ranking import Filters, FusionParams, retrieve
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from retrieval.wiring import bench_cache

ROOT = Path(__file__).resolve().parent.parent
DEVSETS = ROOT / "benchmarks" / "devsets"

# Named variants: overrides of the `search` settings. "default" is the configured one.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "bm25": {"mode": "bm25", "named_min_score": None},
    "dense": {"mode": "dense", "named_min_score": None},
    "common-0.5": {"_common": 0.5},
    "common-0.25": {"_common": 0.25},
    "common-0": {"_common": 0.0},
    "alpha-0.5": {"question_alpha": 0.5},
    "alpha-0.3": {"question_alpha": 0.3},
    "name-0.1": {"name_alpha": 0.1, "_share_from": 0.5},
    "name-0.3": {"name_alpha": 0.3, "_share_from": 0.5},
    "name-0.5": {"name_alpha": 0.5, "_share_from": 0.5},
    "name-0.1-from-0.7": {"name_alpha": 0.1, "_share_from": 0.7},
    "name-0.3-from-0.7": {"name_alpha": 0.3, "_share_from": 0.7},
    # The default before issue 29: one weight per form, `answered` by min_score alone.
    "before": {"name_alpha": None, "named_min_score": None},
    # Every specific term of the question in a passage shown is enough to answer (the
    # issue's rule: a name question whose name is shown is answered), whatever the cosine.
    "named-0.0": {"named_min_score": 0.0},
    "unknown-named": {"_unknown": "named"},
    # Issue 29, second round: the answer re-ranker (retrieval/query/rerank.py; off by default,
    # its weights made by benchmarks/train_reranker.py). "rerank-order": its own order.
    "rerank-off": {"rerank": False},
    "rerank-on": {"rerank": True},
    "rerank-order": {"rerank": True, "rerank_weight": 10.0},
    "rerank-depth-8": {"rerank": True, "rerank_depth": 8},
    "rerank-depth-20": {"rerank": True, "rerank_depth": 20},
    "rerank-depth-30": {"rerank": True, "rerank_depth": 30},
    "rerank-tokens-96": {"rerank": True, "rerank_tokens": 96},
    "rerank-weight-0.1": {"rerank": True, "rerank_weight": 0.1},
    "rerank-weight-0.3": {"rerank": True, "rerank_weight": 0.3},
    # Issue 29, third round: `answered` by the answer model (retrieval/query/answerable.py)
    # at other thresholds, and the cosine rule it replaced.
    "cosine-rule": {"answer_model": False},
    **{f"answer-{t}": {"answer_threshold": t} for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45)},
}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _rate(values) -> float | None:
    values = list(values)
    return round(float(np.mean(values)), 4) if values else None


def _record(records: list, kind: str, answer, should_answer: bool, key: str = "") -> None:
    """What `answered` is decided on, per question, to calibrate it afterwards: kind,
    confidence, evidence, whether it should be answered, the re-ranker's support and the
    question's id in its dev set (which calibration fold it is in)."""
    support = None if answer.support is None else round(answer.support, 4)
    signals = answer.signals.as_dict() if answer.signals is not None else None
    records.append([kind, round(answer.confidence, 4), answer.evidence, should_answer, support, key, signals])


def _name_rows(service: QueryService, rows: list[dict[str, Any]], records: list, kind: str) -> dict[str, Any]:
    ranks, answered = [], []
    for row in rows:
        answer = service.ask(row["q"], k=5)
        _record(records, kind, answer, True, row["id"])
        name = row["name"].lower()
        found = [name in " ".join(h.text.split()).lower() for h in answer.hits]
        ranks.append(found.index(True) + 1 if any(found) else None)
        answered.append(answer.answered)
    return {
        "n": len(rows),
        "hit@1": _rate(r == 1 for r in ranks),
        "hit@3": _rate(r is not None and r <= 3 for r in ranks),
        "answered": _rate(answered),
        "answered_when_name_shown": _rate(a for a, r in zip(answered, ranks, strict=True) if r is not None),
        "missed@3": [row["q"] for row, r in zip(rows, ranks, strict=True) if r is None or r > 3][:40],
    }


def measure(variant: str, overrides: dict[str, Any], config, embedder, pool, bundled_store, folder) -> dict[str, Any]:
    import retrieval.query.ranking as ranking

    overrides = dict(overrides)
    ranking.NAME_SHARE_FROM = overrides.pop("_share_from", 0.7)  # constants, varied here only
    ranking.UNKNOWN_WORDS = overrides.pop("_unknown", "all")
    ranking.COMMON_UNKNOWN = overrides.pop("_common", 1.0)
    search = replace(config, search=overrides).search
    service = QueryService(FolderStore(pool["run"].snapshot.path.parent), lambda: embedder, search)
    bundled = QueryService(bundled_store, lambda: embedder, search)
    out: dict[str, Any] = {"variant": variant, "search": overrides}
    records: list = []

    def ask(svc, q, kind, should_answer, key="", k=5, **kw):
        answer = svc.ask(q, k=k, **kw)
        _record(records, kind, answer, should_answer, key)
        return answer

    for split in ("train", "test"):
        out[f"names_{split}"] = _name_rows(service, _jsonl(DEVSETS / f"names-{split}.jsonl"), records, f"names_{split}")
        unknown = _jsonl(DEVSETS / f"unknown-names-{split}.jsonl")
        out[f"unknown_names_{split}"] = {
            "n": len(unknown),
            "abstained": _rate(not ask(service, r["q"], f"unknown_{split}", False, r["id"]).answered for r in unknown),
        }
        dataset = pool[split]
        params = FusionParams.from_settings(search)
        mode = search.mode
        mrr, shown_mrr, answered = [], [], []
        for qid, text in dataset.queries.items():
            vector = embedder.embed_query(text)
            candidates = retrieve(pool["run"].snapshot, vector, text, mode, 300, params)
            ranked = pool["run"].rank_documents([c.row for c in candidates])
            mrr.append(mrr_at_k(ranked, dataset.qrels[qid], 10))
            answer = ask(service, text, f"quiz_{split}", True, qid, k=10)
            # What the user sees: the articles shown, in order (after the re-ranker, if on).
            shown_mrr.append(mrr_at_k([h.document.id for h in answer.hits], dataset.qrels[qid], 10))
            answered.append(answer.answered)
        out[f"quiz_{split}"] = {
            "n": len(mrr),
            "mrr@10": round(float(np.mean(mrr)), 4),
            "mrr@10_shown": round(float(np.mean(shown_mrr)), 4),
            "answered": _rate(answered),
        }
        abstained = []
        everything = set(dataset.corpus)
        for row in _jsonl(DEVSETS / f"quiz-unanswerable-{split}.jsonl"):
            text = pool["all_queries"][row["query_id"]]
            keep = Filters(documents=frozenset(everything - set(row["exclude"])))
            abstained.append(not ask(service, text, f"quizU_{split}", False, row["query_id"], filters=keep).answered)
        out[f"quiz_unanswerable_{split}"] = {"n": len(abstained), "abstained": _rate(abstained)}
        verdicts: dict[str, list[bool]] = {f"desk_{split}": [], f"deskU_{split}": []}

        def desk(kind, answer, should, key, verdicts=verdicts):
            _record(records, kind, answer, should, key)
            verdicts[kind].append(answer.answered == should)

        documents = {d.id: d for d in dataset.documents()}
        small = replace(config, search=overrides)
        ask_desks(load_desks(split), documents, pool["all_queries"], small, embedder, split, desk)
        out[f"desks_{split}"] = {
            "n": len(verdicts[f"desk_{split}"]),
            "answered": _rate(verdicts[f"desk_{split}"]),
            "n_unanswerable": len(verdicts[f"deskU_{split}"]),
            "abstained": _rate(verdicts[f"deskU_{split}"]),
        }
    off = [q.strip() for q in (ROOT / "data" / "calibration-offtopic.txt").read_text().splitlines()]
    off = [q for q in off if q and not q.startswith("#")]
    out["offtopic_calibration"] = {
        "n": 2 * len(off),
        "abstained": _rate(
            [not ask(service, q, "offtopic", False).answered for q in off]
            + [not ask(bundled, q, "offtopic", False).answered for q in off]
        ),
    }
    train_u = load_questions(DEVSETS / "bundled-unanswerable-train.yaml")
    out["bundled_unanswerable_train"] = {
        "n": len(train_u),
        "abstained": _rate(not ask(bundled, q.q, "bundledU_train", False).answered for q in train_u),
    }
    questions = load_questions(ROOT / "data" / "questions.yaml")
    times = []
    answers = []
    for q in questions:
        started = time.perf_counter()
        answers.append(bundled.ask(q.q, k=5))
        times.append((time.perf_counter() - started) * 1000)
        kind = "bundled_offtopic" if q.off_topic else "bundled_unanswerable" if q.unanswerable else "bundled"
        _record(records, kind, answers[-1], not q.should_abstain)
    report = evaluate(questions, answers)
    out["bundled_eval"] = report.summary()
    out["bundled_eval"]["missed@3"] = [
        r["q"] for r in report.rows if not r["off_topic"] and not r["unanswerable"] and (r["rank"] or 99) > 3
    ]
    out["bundled_eval"]["wrongly_answered"] = [r["q"] for r in report.rows if r["unanswerable"] and r["answered"]]
    out["bundled_eval"]["not_answered"] = [
        r["q"] for r in report.rows if not r["off_topic"] and not r["unanswerable"] and not r["answered"]
    ]
    out["bundled_ms"] = {"mean": round(statistics.mean(times), 2), "p50": round(statistics.median(times), 2)}
    out["records"] = records  # [kind, confidence, evidence, should be answered]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the RealTime QA dev folder (BEIR layout)")
    parser.add_argument("--variants", default="default,bm25,dense", help="comma-separated names from VARIANTS")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    config = load_config()
    inner = configured_embedder(config.embedding)
    embedder = MemoEmbedder(inner)
    train, test = load_beir(args.folder, "train"), load_beir(args.folder, "test")
    run = prepare(test, args.folder, config, inner, bench_cache(), sentences=True)
    all_queries = {**train.queries, **test.queries}
    pool = {"run": run, "train": train, "test": test, "all_queries": all_queries}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        bundled_store = FolderStore(Path(tmp))
        Indexer(config, bundled_store, inner).run([bundled_articles()])
        for name in args.variants.split(","):
            started = time.perf_counter()
            row = measure(name, VARIANTS[name], config, embedder, pool, bundled_store, args.folder)
            row["seconds"] = round(time.perf_counter() - started, 1)
            results.append(row)
            print(json.dumps(_brief(row)), flush=True)
    out = args.out or ROOT / "benchmarks" / "results" / f"ranking-eval-folder-{date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"date": date.today().isoformat(), "model": inner.model_id, "variants": results}
    out.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    """One line per variant: the headline figures."""
    b = row["bundled_eval"]
    return {
        "variant": row["variant"],
        **{f"names_{s}_hit@1": row[f"names_{s}"]["hit@1"] for s in ("train", "test")},
        **{f"names_{s}_hit@3": row[f"names_{s}"]["hit@3"] for s in ("train", "test")},
        **{f"names_{s}_answered": row[f"names_{s}"]["answered"] for s in ("train", "test")},
        **{f"unknown_{s}_abstained": row[f"unknown_names_{s}"]["abstained"] for s in ("train", "test")},
        **{f"quiz_{s}_mrr": row[f"quiz_{s}"]["mrr@10"] for s in ("train", "test")},
        **{f"quiz_{s}_mrr_shown": row[f"quiz_{s}"]["mrr@10_shown"] for s in ("train", "test")},
        **{f"quiz_{s}_answered": row[f"quiz_{s}"]["answered"] for s in ("train", "test")},
        **{f"quizU_{s}_abstained": row[f"quiz_unanswerable_{s}"]["abstained"] for s in ("train", "test")},
        **{f"desk_{s}_answered": row[f"desks_{s}"]["answered"] for s in ("train", "test")},
        **{f"deskU_{s}_abstained": row[f"desks_{s}"]["abstained"] for s in ("train", "test")},
        "offtopic_abstained": row["offtopic_calibration"]["abstained"],
        "bundledU_train_abstained": row["bundled_unanswerable_train"]["abstained"],
        "bundled_hit@1": b["hit@1"],
        "bundled_hit@3": b["hit@3"],
        "bundled_answered": b["answered_rate"],
        "bundled_offtopic_abstained": b["off_topic_abstention"],
        "bundled_unanswerable_abstained": b["unanswerable_abstention"],
        "bundled_p50_ms": row["bundled_ms"]["p50"],
        "seconds": row["seconds"],
    }


if __name__ == "__main__":
    main()
