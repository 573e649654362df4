"""Find the sentence of a passage that best answers the question, and link to it.

Sentences are scored by the IDF-weighted share of the question's (stemmed) words they
contain, the same evidence BM25 uses; when no sentence shares a word with the question
the embedder ranks them instead. The link fragment (``#:~:text=``) makes a browser
scroll to and mark the sentence on the article's page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote, urldefrag

from .chunking import sentence_spans

if TYPE_CHECKING:
    import numpy as np


def best_sentence(
    text: str,
    question_tokens: Sequence[str],
    idf: dict[str, float],
    tokenize: Callable[[Sequence[str]], list[list[str]]],
    dense: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> tuple[int, int] | None:
    """(start, end) of the best sentence in ``text``, or None if it has none."""
    spans = sentence_spans(text)
    if not spans:
        return None
    if len(spans) == 1:
        return spans[0]
    sentences = [text[s:e] for s, e in spans]
    wanted = {t: idf.get(t, 0.0) for t in set(question_tokens)}
    total = sum(wanted.values())
    scores = []
    if total > 0:
        for tokens in tokenize(sentences):
            present = set(tokens)
            scores.append(sum(w for t, w in wanted.items() if t in present) / total)
    if (not scores or max(scores) == 0.0) and dense is not None:
        sims = dense(sentences)
        scores = [float(s) for s in sims]
    if not scores:
        return spans[0]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    return spans[best]


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
