"""One story, many outlets: near-duplicate articles (syndicated wire copy) by MinHash.

Each article gets a MinHash signature (datasketch, 64 permutations) of its word 5-gram
shingles when its segment is written. Two articles whose estimated Jaccard similarity
reaches ``search.same_story`` (measured in docs/quality.md) are the same story: the
answer shows the best-ranked copy once and lists the others as "also reported by".
Headlines, bylines and page furniture differ between outlets, but they are a small share
of an article's shingles, so copies of one wire story stay far above unrelated articles
on the same topic (which share almost no 5-grams).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

NUM_PERM = 64
SHINGLE_WORDS = 5
_WORD = re.compile(r"\w+")


def shingles(text: str) -> list[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE_WORDS:
        return [" ".join(words).encode()] if words else []
    return [" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(len(words) - SHINGLE_WORDS + 1)]


def signatures(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), NUM_PERM) uint32 MinHash signatures; an empty text gets all-max values."""
    import numpy as np
    from datasketch import MinHash

    out = np.full((len(texts), NUM_PERM), np.iinfo(np.uint32).max, dtype=np.uint32)
    for i, text in enumerate(texts):
        grams = shingles(text)
        if grams:
            m = MinHash(num_perm=NUM_PERM, seed=1)
            m.update_batch(grams)
            out[i] = m.hashvalues.astype(np.uint32)
    return out


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two signatures."""
    import numpy as np

    return float(np.mean(a == b))
