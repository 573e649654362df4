"""One figure per result that agrees with the order, and a plain word for it.

Results are ordered by the fused score, whose scale depends on the search mode; the
passage's own cosine similarity does not follow that order (a list could read 0.44, then
0.46). Each hit's *strength* is the fused score rescaled so the first result carries the
answer's confidence (the cosine `answered` is decided on, comparable across questions),
never rising down the list. Its label: "strong" at or above the answering threshold
(``search.min_score``), "fair" within :data:`FAIR_MARGIN` below it, else "weak": the
filler a short list still shows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from retrieval.types import Hit

STRONG, FAIR, WEAK = "strong", "fair", "weak"
FAIR_MARGIN = 0.1  # cosine below the answering threshold that still reads "fair"


def label_for(strength: float, min_score: float) -> str:
    if strength >= min_score:
        return STRONG
    if strength >= min_score - FAIR_MARGIN:
        return FAIR
    return WEAK


def rate(hits: Sequence[Hit], confidence: float, min_score: float, answered: bool | None = None) -> list[Hit]:
    """``hits`` with ``strength`` and ``label`` set (in the order given, best first).

    ``answered``: what the answer said; when it abstained no hit reads "strong", and when
    it answered the first does, so the word never contradicts the verdict above it."""
    if not hits:
        return []
    top = hits[0].score
    out: list[Hit] = []
    ceiling = confidence
    for hit in hits:
        if top > 0 and math.isfinite(top) and math.isfinite(hit.score):
            figure = confidence * max(0.0, hit.score) / top
        else:  # a scale with no positive top: the hit's own cosine
            figure = max(hit.similarity, hit.sentence_similarity)
        figure = min(max(0.0, figure), ceiling)  # never above a result ranked before it
        ceiling = figure
        label = label_for(figure, min_score)
        if answered is False and label == STRONG:
            label = FAIR
        elif answered and not out:
            label = STRONG
        out.append(dataclasses.replace(hit, strength=figure, label=label))
    return out
