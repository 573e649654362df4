#!/usr/bin/env python
"""Calibrate search.min_score: the best-passage similarity below which we abstain.

On-topic: BEIR SciFact *train* claims, searched in the SciFact corpus (each has a judged
relevant abstract there), and the bundled-article questions are NOT used (they report
the result). Off-topic: data/calibration-offtopic.txt, searched in both the SciFact
corpus and the bundled articles. Prints both distributions and the threshold that
maximises balanced accuracy. Usage:

    .venv/bin/python scripts/calibrate_abstention.py ../shared/benchmarks/scifact
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from retrieval.bench.beir import load_beir, prepare
from retrieval.cli.context import bench_cache as _cache_root
from retrieval.config import load_config, replace
from retrieval.embedding import make_embedder
from retrieval.indexer import Indexer, bundled_articles
from retrieval.service import QueryService
from retrieval.store import IndexStore

ROOT = Path(__file__).resolve().parent.parent


def best_similarity(service: QueryService, questions: list[str]) -> np.ndarray:
    # What QueryService compares with min_score.
    return np.array([service.ask(q, k=5).confidence for q in questions])


def main() -> None:
    folder = Path(sys.argv[1])
    config = replace(load_config(), search={"min_score": 0.0})
    embedder = make_embedder(config.embedding.model, config.embedding.backend)
    dataset = load_beir(folder, "train")
    run = prepare(dataset, folder, config, embedder, _cache_root())
    scifact = QueryService(IndexStore(run.snapshot.path.parent), lambda: embedder, config.search)
    off = [
        line.strip()
        for line in (ROOT / "data" / "calibration-offtopic.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    with tempfile.TemporaryDirectory() as tmp:
        Indexer(config, IndexStore(Path(tmp)), embedder).run([bundled_articles()])
        bundled = QueryService(IndexStore(Path(tmp)), lambda: embedder, config.search)
        on_scores = best_similarity(scifact, list(dataset.queries.values()))
        off_scores = np.concatenate([best_similarity(scifact, off), best_similarity(bundled, off)])
    for name, scores in (("on-topic (SciFact train claims)", on_scores), ("off-topic (both collections)", off_scores)):
        pct = np.percentile(scores, [1, 5, 25, 50, 75, 95, 99])
        print(
            f"{name:<34} n={len(scores):4d}  "
            + "  ".join(f"p{p}={v:.3f}" for p, v in zip([1, 5, 25, 50, 75, 95, 99], pct, strict=True))
        )
    best = None
    for threshold in np.arange(0.05, 0.7, 0.005):
        tpr = float(np.mean(on_scores >= threshold))
        tnr = float(np.mean(off_scores < threshold))
        balanced = (tpr + tnr) / 2
        if best is None or balanced > best[0] + 1e-9:
            best = (balanced, threshold, tpr, tnr)
    balanced, threshold, tpr, tnr = best
    print(
        f"best threshold {threshold:.3f}: balanced accuracy {balanced:.3f} (answers {tpr:.1%} of on-topic, abstains on {tnr:.1%} of off-topic)"
    )
    # The range of thresholds within 0.5 points of the best shows how sharp the choice is.
    ok = [
        t
        for t in np.arange(0.05, 0.7, 0.005)
        if (np.mean(on_scores >= t) + np.mean(off_scores < t)) / 2 >= balanced - 0.005
    ]
    print(f"thresholds within 0.005 of the best: {min(ok):.3f} .. {max(ok):.3f}")


if __name__ == "__main__":
    main()
