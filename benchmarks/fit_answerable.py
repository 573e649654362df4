#!/usr/bin/env python
"""Fit the answer model (retrieval/query/answerable.py) on the dev *train* sets.

Needs scikit-learn (installed with sentence-transformers). The records are what
``benchmarks/ranking_eval.py`` writes per question (kind, confidence,
evidence, whether it should be answered, …, the :class:`Signals`); only train kinds are
read. The quiz train questions were learnt by the news model, so their signals, and those
of their small desks, are read from ``--oof`` (``benchmarks/train_news_model.py
--oof-signals``: each asked of the model trained without its fold, of the pool as is and
with its evidence filtered out, and of its desk with and without it) rather than from the
shipped model, whose cosines for them are too good. Each kind weighs the same in the fit
and in the threshold's objective: the mean, over the kinds, of the share right (answered
when it should be, abstained when not), answerable and unanswerable groups weighing one
half each. Writes the model (``--model``, default the shipped ``answerable.json``) and the
figures per threshold (``--out``). Usage::

    .venv/bin/python -m benchmarks.fit_answerable RECORDS.json --oof OOF.json [--variant default]
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np

from retrieval.query.answerable import MODEL_FILE, AnswerModel, Signals

ROOT = Path(__file__).resolve().parent.parent
TRAIN_KINDS = (
    "names_train",
    "unknown_train",
    "quiz_train",
    "quizU_train",
    "desk_train",
    "deskU_train",
    "offtopic",
    "bundledU_train",
)
OOF_KINDS = ("quiz_train", "quizU_train", "desk_train", "deskU_train")
FEATURES = tuple(Signals.__dataclass_fields__)
THRESHOLDS = tuple(round(x, 3) for x in np.arange(0.05, 0.951, 0.025))
C = 1.0  # inverse L2 strength of the logistic regression (sklearn's default)


def load_records(path: Path, variant: str | None) -> list[list]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if "variants" in data:
        rows = [v for v in data["variants"] if variant is None or v["variant"] == variant]
        if not rows:
            raise SystemExit(f"{path}: no variant {variant!r}")
        return rows[0]["records"]
    return data["records"]


def per_kind(records: list[list], probabilities: np.ndarray, threshold: float) -> dict[str, float]:
    out: dict[str, list[bool]] = {}
    for record, p in zip(records, probabilities, strict=True):
        answered = p >= threshold
        out.setdefault(record[0], []).append(answered if record[3] else not answered)
    return {k: round(float(np.mean(v)), 4) for k, v in sorted(out.items())}


def objective(rates: dict[str, float], should: dict[str, bool]) -> float:
    good = [r for k, r in rates.items() if should[k]]
    bad = [r for k, r in rates.items() if not should[k]]
    return 0.5 * float(np.mean(good)) + 0.5 * float(np.mean(bad))


# Boosted trees (`--kind trees`, measured 2026-12-07, not the default): a signal's weight depends on the others (a
# missing name weighs more when the passage is only near the topic), which one linear
# weight per signal cannot say. Constrained monotonic so that support never falls as more
# of the question is shown: +1 rises with the signal, -1 falls, 0 free.
MONOTONIC = {"confidence": 1, "sentence": 1, "gap": 1, "coverage": 1, "evidence": 1, "named": 0, "unknown": -1}
MONOTONIC["agree"] = 1
TREES = {"max_depth": 3, "max_iter": 200, "learning_rate": 0.05}


def _estimator(kind: str, features: tuple[str, ...]):
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=C, max_iter=2000)
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        **TREES, monotonic_cst=[MONOTONIC.get(f, 0) for f in features], early_stopping=False, random_state=0
    )


def _standard(x, kind: str):
    """(mean, scale) the signals are standardised by before fitting. Trees split the raw
    signals: a split does not care for scale, and a threshold carried back from the
    standardised scale can land a hair's breadth on the wrong side of a value it was read
    at (sklearn puts thresholds on training values)."""
    if kind == "trees":
        return np.zeros(x.shape[1]), np.ones(x.shape[1])
    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    return mean, scale


def export_trees(estimator) -> tuple[float, tuple]:
    """(bias, trees) of a fitted HistGradientBoostingClassifier, as AnswerModel reads them."""
    trees = []
    for (predictor,) in estimator._predictors:  # one tree per iteration (a binary task)
        nodes = []
        for node in predictor.nodes:
            if node["is_leaf"]:
                nodes.append((round(float(node["value"]), 8),))
            else:
                if node["is_categorical"]:
                    raise SystemExit("categorical splits are not exported")
                nodes.append(
                    (int(node["feature_idx"]), float(node["num_threshold"]), int(node["left"]), int(node["right"]))
                )
        trees.append(tuple(nodes))
    return float(np.ravel(estimator._baseline_prediction)[0]), tuple(trees)


def fit(
    records: list[list], model_id: str, features: tuple[str, ...] = FEATURES, kind: str = "logistic"
) -> tuple[AnswerModel, list[dict]]:
    x = np.array([[r[6][f] for f in features] for r in records], dtype=np.float64)
    y = np.array([bool(r[3]) for r in records])
    kinds = [r[0] for r in records]
    counts = {k: kinds.count(k) for k in set(kinds)}
    weight = np.array([1.0 / counts[k] for k in kinds])
    mean, scale = _standard(x, kind)
    estimator = _estimator(kind, features).fit((x - mean) / scale, y, sample_weight=weight)
    probabilities = estimator.predict_proba((x - mean) / scale)[:, 1]
    should = {r[0]: bool(r[3]) for r in records}
    grid = []
    for t in THRESHOLDS:
        rates = per_kind(records, probabilities, t)
        grid.append({"threshold": t, "objective": round(objective(rates, should), 4), "rates": rates})
    if kind == "trees":
        # The threshold from out-of-fold probabilities: in sample, trees are surer than they
        # will be on new questions, and a threshold read there is too high. (Eight logistic
        # weights hardly overfit: its threshold is read in sample, as it always was.)
        held = cross_validate(records, features, kind=kind, probabilities=True)
        for g in grid:
            g["objective_in_sample"] = g.pop("objective")
            g["rates_in_sample"] = g.pop("rates")
            rates = per_kind(records, held, g["threshold"])
            g["objective"], g["rates"] = round(objective(rates, should), 4), rates
    best = max(grid, key=lambda g: (g["objective"], -abs(g["threshold"] - 0.5)))
    if kind == "logistic":
        bias, trees = float(estimator.intercept_[0]), ()
        weights = tuple(round(float(v), 6) for v in estimator.coef_[0])
    else:
        bias, trees = export_trees(estimator)
        weights = (0.0,) * len(features)
    model = AnswerModel(
        model_id=model_id,
        features=features,
        mean=tuple(round(float(v), 6) for v in mean) if not trees else (0.0,) * len(features),
        scale=tuple(round(float(v), 6) for v in scale) if not trees else (1.0,) * len(features),
        weights=weights,
        bias=round(bias, 8 if trees else 6),
        threshold=best["threshold"],
        trees=trees,
    )
    check = np.array([model.probability(Signals(**r[6])) for r in records])
    if not np.allclose(check, probabilities, atol=1e-4):
        raise SystemExit(
            f"the exported model disagrees with the fitted one (max {np.abs(check - probabilities).max()})"
        )
    return model, grid


def cross_validate(
    records: list[list], features: tuple[str, ...], folds: int = 5, kind: str = "logistic", probabilities: bool = False
):
    """Out-of-fold figures of a model over ``features`` on the train records, to compare
    signal sets on train: ROC AUC with the kinds weighted alike, the quiz pair's AUC, and
    the best objective over the threshold grid. A question's records share a fold.
    ``probabilities``: return the out-of-fold probabilities instead."""
    import hashlib

    from sklearn.metrics import roc_auc_score

    def fold(r: list) -> int:
        key = r[5] or json.dumps(r[6], sort_keys=True)
        return int(hashlib.md5(key.encode()).hexdigest(), 16) % folds

    x = np.array([[r[6][f] for f in features] for r in records], dtype=np.float64)
    y = np.array([bool(r[3]) for r in records])
    kinds = [r[0] for r in records]
    counts = {k: kinds.count(k) for k in set(kinds)}
    weight = np.array([1.0 / counts[k] for k in kinds])
    where = np.array([fold(r) for r in records])
    p = np.zeros(len(records))
    for k in range(folds):
        train, held = where != k, where == k
        mean, scale = _standard(x[train], kind)
        estimator = _estimator(kind, features).fit((x[train] - mean) / scale, y[train], sample_weight=weight[train])
        p[held] = estimator.predict_proba((x[held] - mean) / scale)[:, 1]
    if probabilities:
        return p
    # "quiz_auc" is the pool's quiz pair only (as docs/quality.md's earlier rounds report
    # it); "oof_auc" adds the small desks, out of fold too.
    quiz = [i for i, k in enumerate(kinds) if k in ("quiz_train", "quizU_train")]
    oof = [i for i, k in enumerate(kinds) if k in OOF_KINDS]
    should = {r[0]: bool(r[3]) for r in records}
    return {
        "auc": round(float(roc_auc_score(y, p, sample_weight=weight)), 4),
        "quiz_auc": round(float(roc_auc_score(y[quiz], p[quiz])), 4) if quiz else float("nan"),
        "oof_auc": round(float(roc_auc_score(y[oof], p[oof])), 4) if oof else float("nan"),
        "objective": round(max(objective(per_kind(records, p, t), should) for t in THRESHOLDS), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", type=Path, help="benchmarks/ranking_eval.py output (its records)")
    parser.add_argument("--variant", default="default")
    parser.add_argument("--oof", type=Path, help="train_news_model.py --oof-signals output for the quiz and desk kinds")
    parser.add_argument("--model", type=Path, default=MODEL_FILE)
    parser.add_argument("--features", default=",".join(FEATURES), help="comma-separated Signals fields")
    parser.add_argument("--cv", action="store_true", help="print 5-fold figures on train for --features; write nothing")
    parser.add_argument(
        "--kind",
        choices=("logistic", "trees"),
        default="logistic",
        help="the model (default: logistic; see docs/quality.md)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    records = [r for r in load_records(args.records, args.variant) if r[0] in TRAIN_KINDS and r[6]]
    if args.oof:
        records = [r for r in records if r[0] not in OOF_KINDS]
        records += [r for r in load_records(args.oof, None) if r[0] in OOF_KINDS and r[6]]
    else:
        print("warning: no --oof; the quiz train signals are the shipped model's (in sample)")
    model_id = json.loads(args.records.read_text(encoding="utf-8")).get("model")
    if not model_id:
        raise SystemExit(f"{args.records}: no embedding model named (a ranking_eval.py output has one)")
    features = tuple(f.strip() for f in args.features.split(",") if f.strip())
    unknown = sorted(set(features) - set(FEATURES))
    if unknown or not features:
        raise SystemExit(f"--features: unknown signals {unknown}; known: {', '.join(FEATURES)}")
    # Records may hold signals a search no longer reads (an experiment's); only these count.
    records = [r for r in records if all(f in r[6] for f in features)]
    if args.cv:
        print(
            json.dumps(
                {"features": list(features), "kind": args.kind, **cross_validate(records, features, kind=args.kind)}
            )
        )
        return
    model, grid = fit(records, model_id, features, args.kind)
    args.model.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    chosen = next(g for g in grid if g["threshold"] == model.threshold)
    print(json.dumps({"threshold": model.threshold, **chosen["rates"], "objective": chosen["objective"]}))
    if model.trees:
        print(f"{len(model.trees)} trees, {sum(len(t) for t in model.trees)} nodes")
    else:
        print(json.dumps(dict(zip(model.features, model.weights, strict=True))))
    out = args.out or ROOT / "benchmarks" / "results" / f"fit-answerable-folder-{date.today().isoformat()}.json"
    payload = {
        "date": date.today().isoformat(),
        "command": "python -m benchmarks.fit_answerable "
        + f"{args.records.name} --variant {args.variant}"
        + (f" --oof {args.oof.name}" if args.oof else "")
        + (f" --features {args.features}" if features != FEATURES else "")
        + (f" --kind {args.kind}" if args.kind != "logistic" else ""),
        "records": {k: sum(1 for r in records if r[0] == k) for k in TRAIN_KINDS},
        "model": model.to_json(),
        "grid": grid,
    }
    out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.model} and {out}")


if __name__ == "__main__":
    main()
