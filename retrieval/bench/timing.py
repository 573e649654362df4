"""Latency figures from a list of timings, and how a measured child reports its memory."""

from __future__ import annotations

from collections.abc import Sequence

# Where a measured child process writes its peak memory (``retrieval.bench.child``).
RSS_ENV = "SOURCED_RSS_REPORT"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
