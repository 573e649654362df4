#!/usr/bin/env python
"""Measure search.same_story: MinHash agreement of wire copies vs different articles.

Copies are synthetic (no real syndicated pages offline): another headline, an agency
byline and copyright line, the last 0-30% of the story cut and 2.5% of its words
changed. Different articles: long pseudo-articles made of 8 consecutive RealTime QA
passages, and the bundled articles. Prints the agreement distributions, the estimate's
error against exact Jaccard, and the share folded at each threshold.

    .venv/bin/python -m benchmarks.measure_same_story ../shared/benchmarks/realtimeqa-dev
"""

from __future__ import annotations

import itertools
import json
import random
import sys
from pathlib import Path

import numpy as np

from retrieval.ingest.readers import CollectionReader
from retrieval.paths import bundled_articles
from retrieval.store.dedup import shingles, signatures, similarity


def wire_copy(text: str, rng: random.Random) -> str:
    sentences = text.split(". ")
    kept = sentences[: max(1, int(len(sentences) * rng.uniform(0.7, 1.0)))]
    words = ". ".join(kept).split()
    for _ in range(max(1, len(words) // 40)):
        words[rng.randrange(len(words))] = rng.choice(["said", "told", "reported", "on Tuesday"])
    return (
        "A different headline for the same story\n\nBy Staff Reporter, Associated Press\n\n"
        + " ".join(words)
        + "\n\nCopyright 2024 The Associated Press. All rights reserved."
    )


def main() -> None:
    rng = random.Random(0)
    corpus = Path(sys.argv[1]) / "corpus.jsonl"
    passages = [json.loads(line)["text"] for line in corpus.open(encoding="utf-8")]
    articles = [" ".join(passages[i : i + 8]) for i in range(0, min(800, len(passages)), 8)]
    articles += [d.text for d in CollectionReader().read([bundled_articles()]).documents]
    copies = [wire_copy(a, rng) for a in articles]
    own, theirs = signatures(articles), signatures(copies)
    same = np.array([similarity(own[i], theirs[i]) for i, a in enumerate(articles) if len(a.split()) >= 60])
    other = np.array([similarity(own[i], own[j]) for i, j in itertools.combinations(range(len(articles)), 2)])
    exact = []
    for a, c, sa, sc in list(zip(articles, copies, own, theirs, strict=True))[:40]:
        x, y = set(shingles(a)), set(shingles(c))
        exact.append(similarity(sa, sc) - len(x & y) / max(1, len(x | y)))
    print(f"copies:    n={len(same)} min {same.min():.3f} p5 {np.percentile(same, 5):.3f} p50 {np.median(same):.3f}")
    print(f"different: n={len(other)} max {other.max():.3f} p99.9 {np.percentile(other, 99.9):.3f}")
    print(f"estimate - exact Jaccard: mean {np.mean(exact):+.3f} sd {np.std(exact):.3f}")
    for t in (0.3, 0.4, 0.5, 0.6):
        print(f"threshold {t}: copies folded {np.mean(same >= t):.1%}, different folded {int(np.sum(other >= t))}")


if __name__ == "__main__":
    main()
