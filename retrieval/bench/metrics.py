"""Standard IR metrics with binary relevance (as trec_eval / BEIR / MTEB compute them)."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """nDCG@k with binary gains and a log2(rank + 1) discount."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def mrr_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    for i, doc in enumerate(ranked[:k]):
        if doc in relevant:
            return 1.0 / (i + 1)
    return 0.0


def hit_at_k(ranked: Sequence[bool], k: int) -> float:
    """1.0 if any of the first ``k`` results is a match."""
    return 1.0 if any(ranked[:k]) else 0.0


def first_match_rr(ranked: Sequence[bool]) -> float:
    for i, ok in enumerate(ranked):
        if ok:
            return 1.0 / (i + 1)
    return 0.0
