"""One figure per result that agrees with the order, and a plain word for it.

Results are ordered by the fused score, whose scale depends on the search mode; the
passage's own cosine similarity does not follow that order (a list could read 0.44, then
0.46). Each hit's *strength* is the fused score rescaled so the first result carries what
the verdict was decided on, never rising down the list: the answer model's ``support``
(how likely what is shown answers, 0-1) when it decided, else the answer's ``confidence``
(the cosine `answered` then goes by). Its label: "strong" at or above that verdict's
threshold (the model's, or ``search.min_score`` for the cosine), "fair" within
:data:`FAIR_MARGIN` below it, else "weak": the filler a short list still shows. So a name
question answered with its name shown at a low cosine ("Who is Nicole Ozer?": cosine 0.20,
support 0.58) reads "0.58 strong", not "0.20 strong".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from retrieval.types import Hit

STRONG, FAIR, WEAK = "strong", "fair", "weak"
FAIR_MARGIN = 0.1  # below the answering threshold, still "fair"


def label_for(strength: float, min_score: float) -> str:
    if strength >= min_score:
        return STRONG
    if strength >= min_score - FAIR_MARGIN:
        return FAIR
    return WEAK


def rate(
    hits: Sequence[Hit],
    confidence: float,
    min_score: float,
    answered: bool | None = None,
    support: float | None = None,
    threshold: float | None = None,
) -> list[Hit]:
    """``hits`` with ``strength`` and ``label`` set (in the order given, best first).

    ``confidence`` and ``min_score``: the cosine and its threshold; ``support`` and
    ``threshold``: the answer model's, which the figure follows instead when both are given
    (the model decided). ``answered``: what the answer said; when it abstained no hit reads
    "strong", and when it answered the first does, so the word never contradicts the
    verdict above it (a name question answered by its names shown, below the model's
    threshold). A result after the first reads "strong" only when its own passage or
    sentence also reaches ``min_score`` by cosine (what alerts and timelines list)."""
    if not hits:
        return []
    cosine_min = min_score
    if support is not None and threshold is not None:
        confidence, min_score = support, threshold
    top = hits[0].score
    first = max(hits[0].similarity, hits[0].sentence_similarity)
    out: list[Hit] = []
    ceiling = confidence
    for hit in hits:
        own = max(hit.similarity, hit.sentence_similarity)
        if top > 0 and math.isfinite(top) and math.isfinite(hit.score):
            ratio = max(0.0, hit.score) / top
            # Fused scores are rescaled over the candidates, so in a collection of a few
            # articles the last candidate scores 0 however close its text is: its cosine
            # to the question, against the first's, says how close it is too.
            if first > 0:
                ratio = max(ratio, min(1.0, own / first))
            figure = confidence * ratio
        else:  # a scale with no positive top: the hit's own cosine
            figure = own
        figure = min(max(0.0, figure), ceiling)  # never above a result ranked before it
        ceiling = figure
        label = label_for(figure, min_score)
        if answered is False and label == STRONG:
            label = FAIR
        elif answered and not out:
            label = STRONG
        elif label == STRONG and (own < cosine_min or (out and out[-1].label != STRONG)):
            # Ranked close to the answer, but its own text is not on the question (a story
            # of the same town for "the seawall"): filler, below the line, never alerted;
            # and once the answers run out, what follows is below the line too (one line).
            label = FAIR
        out.append(dataclasses.replace(hit, strength=figure, label=label))
    return out
