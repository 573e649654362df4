#!/usr/bin/env python
"""Calibrate search.min_score: the similarity of the closest *shown* passage or sentence
below which an answer is marked low-confidence (``answered: false``).

On-topic: the *train* questions of each BEIR folder given, searched in its own corpus
(each has a judged relevant passage there). Off-topic: data/calibration-offtopic.txt,
asked of every corpus and of the bundled articles. The threshold maximises balanced
accuracy with every on-topic set weighted equally. The held-out *test* questions and
data/questions.yaml are not used for the choice; the test answered rate is reported.
Usage:

    .venv/bin/python -m benchmarks.calibrate_abstention ../shared/benchmarks/scifact \\
        ../shared/benchmarks/realtimeqa-dev [--exclude realtimeqa-dev]

``--exclude NAME``: that set's train questions are reported but do not vote. Use it for
a set the model was fine-tuned on (the default model learnt RealTime QA dev train): its
similarities are higher than those of questions the model has not seen, and would pull
the threshold up. ``--oof NAME=FILE`` instead lets that set vote with out-of-fold
confidences (``benchmarks/train_news_model.py --oof FILE``: each question asked of a model
trained without it). The rates at the configured ``search.min_score`` are printed too.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from retrieval.bench.beir import load_beir, prepare
from retrieval.config import load_config, replace
from retrieval.embedding import configured_embedder
from retrieval.ingest.indexer import Indexer
from retrieval.paths import bundled_articles
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from retrieval.wiring import bench_cache as _cache_root

ROOT = Path(__file__).resolve().parent.parent
GRID = np.arange(0.05, 0.7, 0.005)


def confidences(service: QueryService, questions: list[str]) -> np.ndarray:
    # What QueryService compares with min_score.
    return np.array([service.ask(q, k=5).confidence for q in questions])


def percentiles(name: str, scores: np.ndarray) -> str:
    pct = np.percentile(scores, [1, 5, 25, 50, 75, 95, 99])
    cells = "  ".join(f"p{p}={v:.3f}" for p, v in zip([1, 5, 25, 50, 75, 95, 99], pct, strict=True))
    return f"{name:<40} n={len(scores):4d}  {cells}"


def main() -> None:
    args = sys.argv[1:]
    excluded = set()
    while "--exclude" in args:
        at = args.index("--exclude")
        if at + 1 >= len(args):
            sys.exit("--exclude needs the name of a set")
        excluded.add(args[at + 1])
        del args[at : at + 2]
    oof: dict[str, dict[str, float]] = {}
    while "--oof" in args:
        at = args.index("--oof")
        name, sep, file = args[at + 1].partition("=") if at + 1 < len(args) else ("", "", "")
        if not sep:
            sys.exit("--oof needs NAME=FILE (a JSON file from benchmarks/train_news_model.py --oof)")
        try:
            oof[name] = json.loads(Path(file).read_text())
        except (OSError, ValueError) as exc:
            sys.exit(f"--oof {name}: cannot read {file} ({exc})")
        del args[at : at + 2]
    folders = [Path(a) for a in args]
    if not folders:
        sys.exit(__doc__)
    configured = load_config()
    config = replace(configured, search={"min_score": 0.0})
    embedder = configured_embedder(config.embedding)
    off_questions = [
        line.strip()
        for line in (ROOT / "data" / "calibration-offtopic.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    on: dict[str, np.ndarray] = {}
    held_out: dict[str, np.ndarray] = {}
    off_parts = []
    for folder in folders:
        for split in ("train", "test"):
            dataset = load_beir(folder, split)
            run = prepare(dataset, folder, config, embedder, _cache_root(), sentences=True)
            service = QueryService(FolderStore(run.snapshot.path.parent), lambda: embedder, config.search)
            scores = confidences(service, list(dataset.queries.values()))
            (on if split == "train" else held_out)[f"{dataset.name} {split}"] = scores
            if split == "train" and dataset.name in oof:
                missing = [q for q in dataset.queries if q not in oof[dataset.name]]
                if missing:
                    sys.exit(f"--oof {dataset.name}: no confidence for {len(missing)} train questions")
                on[f"{dataset.name} train, out of fold"] = np.array([oof[dataset.name][q] for q in dataset.queries])
                excluded.add(dataset.name)  # the in-sample figures only report
        off_parts.append(confidences(service, off_questions))
    with tempfile.TemporaryDirectory() as tmp:
        Indexer(config, FolderStore(Path(tmp)), embedder).run([bundled_articles()])
        bundled = QueryService(FolderStore(Path(tmp)), lambda: embedder, config.search)
        off_parts.append(confidences(bundled, off_questions))
    off = np.concatenate(off_parts)
    for name, scores in [*on.items(), *held_out.items(), ("off-topic (every collection)", off)]:
        print(percentiles(name, scores))

    voting = {name: scores for name, scores in on.items() if name.removesuffix(" train") not in excluded}
    if not voting:
        sys.exit("every on-topic set was excluded")
    print("on-topic sets that choose the threshold:", ", ".join(voting))

    def balanced(t: float) -> float:
        return (np.mean([np.mean(s >= t) for s in voting.values()]) + np.mean(off < t)) / 2

    values = np.array([balanced(t) for t in GRID])
    best = int(np.argmax(values))
    threshold = float(GRID[best])
    plateau = GRID[values >= values[best] - 0.005]
    print(f"best threshold {threshold:.3f}: balanced accuracy {values[best]:.3f}")
    print(f"thresholds within 0.005 of the best: {plateau.min():.3f} .. {plateau.max():.3f}")
    for label, t in (
        (f"at the best, {threshold:.3f}", threshold),
        (f"at search.min_score, {configured.search.min_score:.3f}", configured.search.min_score),
    ):
        print(label)
        for name, scores in [*on.items(), *held_out.items()]:
            print(f"  {name:<30} answered {np.mean(scores >= t):6.1%}")
        print(f"  {'off-topic':<30} abstained {np.mean(off < t):6.1%}")


if __name__ == "__main__":
    main()
