#!/usr/bin/env python
"""Choose ``search.rerank_min`` from a ranking_eval run's records (dev train only).

    PYTHONPATH=. .venv/bin/python benchmarks/calibrate_rerank.py benchmarks/results/ranking-eval-<date>.json [variant]

Each record of the variant (``benchmarks/ranking_eval.py``) holds the re-ranker's support
for one question. Only train records the re-ranker did not learn count: the calibration
fold of the dev train questions and names (``train_reranker.calibration_fold``), the
off-topic calibration questions and the bundled unanswerable *train* questions. For each
threshold it prints the share answered of each set that should be answered and the share
abstained of each that should abstain, and picks the threshold with the best mean
abstention while every answerable set stays answered >= 95% (else the best balanced mean),
over a grid of ``search.min_score`` too (the rule: support and the cosine rule).
Test records are printed at the chosen threshold for reference only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.train_reranker import calibration_fold

FOLDED = {"names_train", "unknown_train", "quiz_train", "quizU_train"}
ALWAYS = {"offtopic", "bundledU_train"}


NAMED_MIN = 0.2  # search.named_min_score, kept


def rates(records, threshold: float, min_score: float) -> dict[str, float]:
    """Per set, the share right (answered when it should be, else abstained) under the
    rule: support >= threshold and the cosine rule (min_score, or every specific term
    shown and named_min_score)."""
    by_kind: dict[str, list[bool]] = {}
    for kind, conf, evidence, should, support, *_ in records:
        cosine = conf >= min_score or (evidence is not None and evidence >= 1 - 1e-6 and conf >= NAMED_MIN)
        answered = support is not None and support >= threshold and cosine
        by_kind.setdefault(kind, []).append(answered if should else not answered)
    return {k: round(float(np.mean(v)), 3) for k, v in sorted(by_kind.items())}


def main() -> None:
    path = Path(sys.argv[1])
    variant = sys.argv[2] if len(sys.argv) > 2 else "default"
    data = json.loads(path.read_text())
    row = next(v for v in data["variants"] if v["variant"] == variant)
    records = row["records"]
    calibration = [r for r in records if r[0] in ALWAYS or (r[0] in FOLDED and len(r) > 5 and calibration_fold(r[5]))]
    test = [r for r in records if r[0].endswith("_test") or (r[0].startswith("bundled") and r[0] != "bundledU_train")]
    print(f"{len(calibration)} calibration records; sets: {sorted({r[0] for r in calibration})}")
    best = None
    table = []
    for min_score in np.round(np.arange(0.30, 0.501, 0.01), 3):
        for threshold in np.round(np.arange(0.0, 0.99, 0.02), 2):
            got = rates(calibration, float(threshold), float(min_score))
            answerable = [got[k] for k in ("quiz_train", "names_train") if k in got]
            abstain = [got[k] for k in ("unknown_train", "quizU_train", "offtopic", "bundledU_train") if k in got]
            feasible = min(answerable) >= 0.95
            score = (feasible, round(float(np.mean(abstain)) if feasible else float(np.mean(answerable + abstain)), 4))
            table.append((float(min_score), float(threshold), got, feasible))
            # Ties go to the higher min_score, then the lower threshold (the more cautious cosine).
            if best is None or score > best[0]:
                best = (score, float(min_score), float(threshold))
    for min_score, threshold, got, feasible in table:
        if abs(min_score - best[1]) < 1e-9 or abs(threshold - best[2]) < 1e-9:
            print(min_score, threshold, got, "ok" if feasible else "")
    _, min_score, threshold = best
    print(f"chosen min_score {min_score}, rerank_min {threshold} (mean abstention {best[0][1]})")
    print(f"test at it (reported, not used): {rates(test, threshold, min_score)}")


if __name__ == "__main__":
    main()
