#!/usr/bin/env python
"""Choose ``search.answer_terms`` and ``search.named_min_score`` on dev *train* records.

Reads the per-question records a ``benchmarks/ranking_eval.py`` run wrote for one variant
(``[kind, confidence, evidence, should be answered]``) and grid-searches the two settings,
with ``search.min_score`` kept at its calibrated value (docs/ranking.md: chosen out of fold;
the in-sample RealTime QA train confidences are inflated, since the default model learnt
those questions, so they must not move it). Objective: the mean abstention of the train sets that should abstain,
while every answerable train set stays answered >= 95% (answerable: name questions, quiz questions, each kept answered >= 95%; to abstain: unknown names,
quiz questions with their evidence filtered out, the bundled unanswerable train questions,
the off-topic calibration questions). Prints the rates of every set, train and test, at
the best setting and at the configured one. Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/calibrate_answered.py benchmarks/results/FILE.json VARIANT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from retrieval.config import load_config

TRAIN = ("names_train", "quiz_train", "unknown_train", "quizU_train", "bundledU_train", "offtopic")
ANSWERED = 0.95
TERMS = np.round(np.arange(0.0, 1.01, 0.05), 2)
NAMED = [None, *np.round(np.arange(0.0, 0.47, 0.025), 3)]


def answered(conf, evidence, min_score, terms, named):
    out = np.empty(len(conf), dtype=bool)
    for i, (c, e) in enumerate(zip(conf, evidence, strict=True)):
        if e is None:
            out[i] = c >= min_score
        elif named is not None and e >= 1 - 1e-6 and c >= named:
            out[i] = True
        else:
            out[i] = c >= min_score and e >= terms
    return out


def rates(sets, min_score, terms, named):
    """Per set: the share handled right (answered if answerable, else abstained)."""
    out = {}
    for kind, (conf, evidence, should) in sets.items():
        ok = answered(conf, evidence, min_score, terms, named) == should
        out[kind] = float(ok.mean())
    return out


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data = json.loads(Path(sys.argv[1]).read_text())
    row = next(v for v in data["variants"] if v["variant"] == sys.argv[2])
    sets: dict[str, tuple] = {}
    for kind, conf, evidence, should in row["records"]:
        c, e, s = sets.setdefault(kind, ([], [], []))
        c.append(conf), e.append(evidence), s.append(should)
    sets = {k: (np.array(c), e, np.array(s)) for k, (c, e, s) in sets.items()}
    search = load_config().search
    min_score = search.min_score

    def objective(r):
        # The floor first: every answerable train set answered >= ANSWERED (else the
        # setting scores below any that meets it); then the mean abstention of the others.
        good = [r[k] for k in TRAIN if k in r and sets[k][2].all()]
        bad = [r[k] for k in TRAIN if k in r and not sets[k][2].any()]
        return float(np.mean(bad)) + (0.0 if min(good) >= ANSWERED else -1.0) + 0.001 * float(np.mean(good))

    best = max(
        ((objective(rates(sets, min_score, t, n)), t, n) for t in TERMS for n in NAMED),
        key=lambda x: (round(x[0], 4), -x[1]),
    )
    print(f"min_score {min_score} (kept); best answer_terms {best[1]} named_min_score {best[2]}: {best[0]:.4f}")
    near = sorted(((objective(rates(sets, min_score, t, n)), t, n) for t in TERMS for n in NAMED), key=lambda x: -x[0])[
        :8
    ]
    for value, t, n in near:
        print(f"  answer_terms {t:<5} named_min_score {n}: {value:.4f}")
    for label, (t, n) in (
        ("before (min_score only)", (0.0, None)),
        ("best", best[1:]),
        ("configured", (search.answer_terms, search.named_min_score)),
    ):
        r = rates(sets, min_score, t, n)
        print(f"{label}: answer_terms {t} named_min_score {n}, train objective {objective(r):.4f}")
        for kind in sorted(r):
            verb = "answered" if sets[kind][2].all() else "abstained" if not sets[kind][2].any() else "right"
            print(f"  {kind:<22} n={len(sets[kind][0]):4d} {verb} {r[kind]:.3f}")


if __name__ == "__main__":
    main()
