"""BM25 from the postings table, with the same formula and collection-wide statistics as
the folder store's, so the hybrid ranking is the same on both."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from retrieval.store.lexical import DEFAULT_PARAMS, tokenize
from retrieval.store.postgres.connection import visible

if TYPE_CHECKING:
    import numpy as np

    from retrieval.store.postgres.snapshot import PgSnapshot


class PgBM25:
    """BM25 from the postings in the database, with the same formula and collection-wide
    statistics (live rows, their average length, document frequencies) as
    :class:`retrieval.store.lexical.CollectionBM25`."""

    def __init__(self, snap: PgSnapshot) -> None:
        self.snap = snap
        self.params = {**DEFAULT_PARAMS, **(snap.manifest.get("lexical") or {})}
        self.rows = snap.rows
        self.live_rows = snap.chunk_count
        self.average_length = snap.manifest.get("length", 0) / self.live_rows if self.live_rows else 0.0

    def query_tokens(self, query: str) -> list[str]:
        return tokenize([query], self.params)[0]

    def _postings(self, tokens: Sequence[str]) -> list[tuple[str, list[int], list[int], list[int]]]:
        """Per query term: its live rows, term frequencies and row lengths, as arrays (one
        result row per term, loaded in binary: no Python tuple per posting)."""
        return self.snap._all(
            "SELECT term, array_agg(row), array_agg(tf), array_agg(length) FROM S.terms "
            f"WHERE term = ANY(%(terms)s) AND {visible()} GROUP BY term",
            {"terms": sorted(set(tokens))},
            binary=True,
        )

    def _idf(self, df: int) -> float:
        import math

        return math.log(1 + (self.live_rows - df + 0.5) / (df + 0.5))

    def scores(self, query: str, tokens: Sequence[str] | None = None) -> np.ndarray:
        import numpy as np

        out = np.zeros(self.rows, dtype=np.float32)
        tokens = list(tokens) if tokens is not None else self.query_tokens(query)
        if not self.live_rows or self.average_length == 0 or not tokens:
            return out
        by_term = {term: (rows, tfs, lengths) for term, rows, tfs, lengths in self._postings(tokens)}
        k1, b = float(self.params["k1"]), float(self.params["b"])
        for term in tokens:  # a word asked twice counts twice, as in the local store
            hits = by_term.get(term)
            if not hits:
                continue
            rows = np.array(hits[0], dtype=np.int64)
            tfs = np.array(hits[1], dtype=np.float32)
            norms = (k1 * ((1 - b) + b * np.array(hits[2], dtype=np.int64) / self.average_length)).astype(np.float32)
            idf = np.float32(self._idf(len(rows)))
            out[rows] += (idf * tfs / (tfs + norms)).astype(np.float32)  # a row appears once per term
        return out

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        if not tokens or not self.live_rows:
            return {}
        found = self.snap._all(
            f"SELECT term, count(*) FROM S.terms WHERE term = ANY(%(terms)s) AND {visible()} GROUP BY term",
            {"terms": sorted(set(tokens))},
        )
        df = dict(found)
        return {token: self._idf(int(df[token])) for token in tokens if token in df}
