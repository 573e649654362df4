"""Lexical (BM25) side of retrieval, on bm25s.

Dense embeddings blur names, numbers and rare words ("Rekognition", "Clearview", "98
percent"); BM25 matches them exactly. The BM25 index covers the same rows as the FAISS
index (the text embedded: title + passage) and is rebuilt with each index generation,
which costs seconds even for 100k passages.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

LEXICAL_DIR = "bm25"
# k1 and b come from the index settings (tuned on SciFact train: docs/ranking.md).
DEFAULT_PARAMS: dict[str, Any] = {"k1": 0.9, "b": 0.4, "method": "lucene", "stemmer": "english", "stopwords": "en"}

_stemmers: dict[str, Any] = {}
_stemmer_lock = threading.Lock()


def _stemmer(language: str | None):
    if not language:
        return None
    # PyStemmer objects are not thread-safe: one per thread and language.
    key = f"{language}:{threading.get_ident()}"
    with _stemmer_lock:
        if key not in _stemmers:
            import Stemmer

            _stemmers[key] = Stemmer.Stemmer(language)
        return _stemmers[key]


def tokenize(texts: Sequence[str], params: dict[str, Any]) -> list[list[str]]:
    """Lower-cased, stop-worded, stemmed word tokens, as the index was built with."""
    import bm25s

    return bm25s.tokenize(
        list(texts),
        stopwords=params.get("stopwords"),
        stemmer=_stemmer(params.get("stemmer")),
        return_ids=False,
        show_progress=False,
    )


class LexicalIndex:
    """BM25 over the index rows. ``scores`` gives every row's score for a query."""

    def __init__(self, retriever: Any, params: dict[str, Any], rows: int) -> None:
        self._retriever = retriever
        self.params = params
        self.rows = rows

    @classmethod
    def build(cls, texts: Sequence[str], params: dict[str, Any] | None = None) -> LexicalIndex:
        import bm25s

        params = {**DEFAULT_PARAMS, **(params or {})}
        tokens = tokenize(texts, params) if texts else []
        if not any(tokens):  # no indexable word at all: nothing can match lexically
            return cls(None, params, len(texts))
        retriever = bm25s.BM25(k1=params["k1"], b=params["b"], method=params["method"])
        retriever.index(tokens, show_progress=False)
        return cls(retriever, params, len(texts))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._retriever is not None:
            self._retriever.save(str(folder), show_progress=False)
        (folder / "sourced-lexical.json").write_text(json.dumps({"params": self.params, "rows": self.rows}))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        meta = json.loads((folder / "sourced-lexical.json").read_text())
        retriever = None
        if meta["rows"]:
            retriever = bm25s.BM25.load(str(folder), mmap=False, show_progress=False, verbosity=0)
        return cls(retriever, meta["params"], meta["rows"])

    def query_tokens(self, query: str) -> list[str]:
        return tokenize([query], self.params)[0]

    def scores(self, query: str, tokens: Sequence[str] | None = None) -> np.ndarray:
        """BM25 score of every row (zeros when no query word is in the collection)."""
        import numpy as np

        if self._retriever is None:
            return np.zeros(self.rows, dtype=np.float32)
        tokens = [
            t for t in (tokens if tokens is not None else self.query_tokens(query)) if t in self._retriever.vocab_dict
        ]
        if not tokens:
            return np.zeros(self.rows, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """Inverse document frequency of each known token (for highlighting)."""
        import math

        if self._retriever is None:
            return {}
        vocab = self._retriever.vocab_dict
        indptr = self._retriever.scores["indptr"]
        n = max(self.rows, 1)
        out = {}
        for token in tokens:
            if token in vocab:
                i = vocab[token]
                df = int(indptr[i + 1] - indptr[i])
                out[token] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return out
