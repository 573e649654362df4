"""Whether what is shown answers the question: signals read off a search, and the small
model that weighs them (issue 29, docs/quality.md "What `answered` means").

A cosine alone says how near the topic is. A question the collection cannot answer is
usually still near some passage of it, so the signals also say how much of the question
is *in* what is shown, and how far the best passage stands out from the rest:

- ``confidence``: the cosine of the closest passage or sentence shown;
- ``sentence``: the cosine of the first result's sentence in bold;
- ``gap``: how far the best candidate's cosine stands above the mean of the next nine
  (one passage that stands out, or a flat field of near misses);
- ``coverage``: the IDF-weighted share of the question's words (the asking words left
  out) in the best of the first three passages shown, words no passage holds counted as
  missing;
- ``evidence``: the same share over the question's names and numbers only (0 when it
  names nothing: ``named`` says which);
- ``unknown``: the share of the question's word weight in words no passage holds;
- ``agree``: whether the best passage by BM25 and the best by meaning are of one article.

:class:`AnswerModel` is a logistic regression over these, fitted on the dev *train* sets by
``benchmarks/fit_answerable.py`` and shipped as ``answerable.json`` beside this module; its
``probability`` is :attr:`Answer.support`, and ``answered`` is support ≥ its threshold.
Applying it is a dot product: no library, no model run. (The model file may instead hold
boosted trees, ``fit_answerable --kind trees``; measured and not shipped, docs/quality.md.) The signals' scale is the
embedding model's (its cosines), so the model applies only to an index built with the
embedding model it was fitted for; any other (a model of the user's, the tests' hashing
embedder) goes by ``search.min_score`` on the cosine, which is calibrated per model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from retrieval.errors import ModelLoadError
from retrieval.query.ranking import Candidate, Specifics

MODEL_FILE = Path(__file__).with_name("answerable.json")
GAP_DEPTH = 10  # the best candidate against the mean of the next GAP_DEPTH - 1


@dataclass(frozen=True, slots=True)
class Signals:
    """What ``answered`` is decided on (see the module's docstring)."""

    confidence: float
    sentence: float
    gap: float
    coverage: float
    evidence: float
    named: float
    unknown: float
    agree: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def read_signals(
    confidence: float,
    sentence: float,
    candidates: Sequence[Candidate],
    doc_of,
    found: Specifics,
    content: Mapping[str, float],
    shown: Sequence[set[str]],
) -> Signals:
    """The :class:`Signals` of one search.

    ``candidates``: the fused candidates (with their cosine and BM25 scores); ``doc_of``:
    a candidate row's article; ``found``: the question's specifics; ``content``: the IDF
    of each question token that is not an asking word and that the collection holds;
    ``shown``: the tokens of the passages shown, in order."""
    dense = sorted((c.dense for c in candidates), reverse=True)
    rest = dense[1:GAP_DEPTH]
    gap = dense[0] - sum(rest) / len(rest) if rest else (dense[0] if dense else 0.0)
    missing = found.missing
    total = sum(content.values()) + missing
    coverage = 0.0
    if total > 0:
        coverage = max((sum(w for t, w in content.items() if t in toks) / total for toks in shown[:3]), default=0.0)
    presence = [p for p in (found.presence(t) for t in shown[:3]) if p is not None]
    evidence = max(presence, default=0.0)
    agree = 0.0
    if candidates:
        by_dense = max(candidates, key=lambda c: c.dense)
        by_lexical = max(candidates, key=lambda c: c.lexical)
        agree = float(by_lexical.lexical > 0 and doc_of(by_dense.row) == doc_of(by_lexical.row))
    return Signals(
        confidence=float(confidence),
        sentence=float(sentence),
        gap=float(gap),
        coverage=float(coverage),
        evidence=float(evidence),
        named=float(bool(presence)),
        unknown=float(missing / total) if total > 0 else 0.0,
        agree=agree,
    )


# A node of a tree: [feature index, threshold, left, right] (a value at or below the
# threshold goes left), or [leaf value].
Tree = tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class AnswerModel:
    """What :class:`Signals` say of whether what is shown answers, and the probability at or
    above which a question counts as answered.

    Either a logistic regression (features standardised by ``mean`` and ``scale``, then
    ``weights`` and ``bias``), or, when ``trees`` are given, boosted trees: the log-odds are
    ``bias`` plus one leaf value per tree. The trees are fitted with monotonic constraints
    (benchmarks/fit_answerable.py): more of the question shown, a closer cosine or a best
    passage that stands out further never lowers the support. Either way applying it is a
    few hundred comparisons in plain Python: no library at question time."""

    model_id: str  # the embedding model whose signals it was fitted on
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    trees: tuple[Tree, ...] = ()

    def probability(self, signals: Signals) -> float:
        values = asdict(signals)
        z = self.bias
        if self.trees:
            x = [float(values[name]) for name in self.features]
            for tree in self.trees:
                node = tree[0]
                while len(node) == 4:
                    node = tree[int(node[2]) if x[int(node[0])] <= node[1] else int(node[3])]
                z += node[0]
        else:
            for name, m, s, w in zip(self.features, self.mean, self.scale, self.weights, strict=True):
                z += w * (float(values[name]) - m) / s
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_json(self) -> dict:
        out = asdict(self) | {"features": list(self.features)}
        if self.trees:
            out["trees"] = [[list(node) for node in tree] for tree in self.trees]
        else:
            out.pop("trees")
        return out

    @classmethod
    def from_json(cls, data: Mapping) -> AnswerModel:
        features = tuple(str(f) for f in data["features"])
        known = set(Signals.__dataclass_fields__)
        if not features or not set(features) <= known:
            raise ValueError(f"unknown signals in the answer model: {sorted(set(features) - known)}")
        model = cls(
            model_id=str(data["model_id"]),
            features=features,
            mean=tuple(float(x) for x in data["mean"]),
            scale=tuple(float(x) or 1.0 for x in data["scale"]),
            weights=tuple(float(x) for x in data["weights"]),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            trees=tuple(_tree(t, len(features)) for t in data.get("trees", ())),
        )
        if not len(model.features) == len(model.mean) == len(model.scale) == len(model.weights):
            raise ValueError("the answer model's features, mean, scale and weights differ in length")
        return model


def _tree(nodes, features: int) -> Tree:
    """One tree as :data:`Tree`, checked so that walking it always ends at a leaf: a
    damaged file must fail when read, not loop or fail per question."""
    tree = tuple(tuple(float(v) for v in node) for node in nodes)
    if not tree:
        raise ValueError("an empty tree in the answer model")
    for n, node in enumerate(tree):
        if len(node) == 4:
            feature, _, left, right = node
            if not (0 <= feature < features and feature == int(feature)):
                raise ValueError(f"a tree node names signal {feature}, of {features}")
            # Children come after their parent: no cycle, every walk ends.
            if not all(n < child < len(tree) and child == int(child) for child in (left, right)):
                raise ValueError("a tree node points outside its tree")
        elif len(node) != 1 or not math.isfinite(node[0]):
            raise ValueError("a tree node is neither a split nor a finite leaf")
    return tree


def load_model(model_id: str | None, path: Path | None = None) -> AnswerModel | None:
    """The shipped answer model when it was fitted for ``model_id`` (an index's embedding
    model), else None: ``answered`` then goes by the cosine."""
    model = _read(path or MODEL_FILE)
    return model if model is not None and model.model_id == model_id else None


@lru_cache(maxsize=8)
def _read(path: Path) -> AnswerModel | None:
    try:
        return AnswerModel.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        # A damaged model file must not silently change what `answered` means, nor show a
        # traceback: one line that says what to do.
        raise ModelLoadError(
            f"The answer model {path} cannot be read ({type(e).__name__}: {e}); reinstall sourced, "
            "rebuild it with benchmarks/fit_answerable.py, or set search.answer_model: false."
        ) from e
