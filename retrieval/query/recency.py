"""The recency prior: a stage after fusion that leans the ranking towards articles
published shortly before the as-of day.

Each candidate's fused score gains ``weight * 0.5 ** (age / half_life)`` times the spread
of the candidates' scores (so the same weight means the same in every search mode): an
article of the as-of day gains ``weight`` of the spread, one ``half_life`` days older half
of it. An undated article gains nothing. A strong topical match to an older story still
wins over a weak recent one unless ``weight`` is large; a question asking for the latest
("currently", "latest", "now") gets ``weight * latest_factor``. Tuned on the RealTime QA
dev train split (benchmarks/dated_replay.py, docs/quality.md "Time").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from retrieval.query.ranking import Candidate


def recency_prior(
    candidates: Sequence[Candidate],
    published_of: Callable[[int], datetime | None],
    as_of: datetime,
    weight: float,
    half_life_days: float,
) -> list[Candidate]:
    """``candidates`` rescored by the prior and sorted best first (ties keep their order)."""
    if not candidates or weight <= 0 or half_life_days <= 0:
        return list(candidates)
    scores = [c.score for c in candidates]
    spread = max(scores) - min(scores) or abs(max(scores)) or 1.0
    out = []
    for c in candidates:
        published = published_of(c.row)
        if published is None:
            out.append(c)
            continue
        age = max(0.0, (as_of - published).total_seconds() / 86400.0)
        bonus = weight * spread * 0.5 ** (age / half_life_days)
        out.append(replace(c, score=c.score + bonus))
    order = sorted(range(len(out)), key=lambda i: -out[i].score)
    return [out[i] for i in order]
