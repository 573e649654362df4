"""Helpers for the answer sentence: word-overlap scores, and links that open at it.

The service scores each candidate sentence by embedding similarity plus the
IDF-weighted share of the question's (stemmed) words it contains, the evidence BM25
uses. The link fragment (``#:~:text=``) makes a browser scroll to and mark the
sentence on the article's page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote, urldefrag

if TYPE_CHECKING:
    import numpy as np


def sentence_coverage(
    sentence_tokens: Sequence[Sequence[str]], question_tokens: Sequence[str], idf: dict[str, float]
) -> np.ndarray:
    """For each sentence (as BM25 tokens), the IDF-weighted share of the question's words in it."""
    import numpy as np

    wanted = {t: idf.get(t, 0.0) for t in set(question_tokens)}
    total = sum(wanted.values())
    if total <= 0 or not sentence_tokens:
        return np.zeros(len(sentence_tokens), dtype=np.float32)
    weights = [(t, w) for t, w in wanted.items() if w > 0]
    out = np.empty(len(sentence_tokens), dtype=np.float32)
    for i, tokens in enumerate(sentence_tokens):
        present = set(tokens)  # once per sentence (it was rebuilt for every question word)
        out[i] = sum(w for t, w in weights if t in present) / total
    return out


def text_fragment_url(url: str, sentence: str) -> str:
    """``url`` with a text fragment that opens the page at ``sentence``.

    Long sentences use the ``start,end`` form (first and last words) so small
    differences in the middle of the page's text still match.
    """
    base, _ = urldefrag(url)
    words = sentence.split()
    if not words:
        return base
    if len(words) <= 10:
        directive = _encode(" ".join(words))
    else:
        directive = _encode(" ".join(words[:5])) + "," + _encode(" ".join(words[-5:]))
    return f"{base}#:~:text={directive}"


def _encode(text: str) -> str:
    # Text directives reserve '-', ',' and '&'; quote() leaves '-' alone, so do it here.
    return quote(text, safe="").replace("-", "%2D")
