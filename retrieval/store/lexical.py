"""Lexical (BM25) side of retrieval: per-segment postings, collection-wide statistics.

Dense embeddings blur names, numbers and rare words ("Rekognition", "Clearview", "98
percent"); BM25 matches them exactly. Each index segment keeps the postings of its rows
(term -> rows and term frequencies, plus each row's length in tokens), written once with
the segment. Scores are computed over the whole collection at question time: document
frequencies, the number of rows and the average length come from every segment's live
rows, so a passage scores the same however the index happens to be segmented, and
deleted rows stop counting as soon as they are marked.

The scoring is bm25s's "lucene" variant (idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
tf / (tf + k1 (1 - b + b len / avglen))) with its tokenizer (stop words, English
stemmer), so the figures tuned on SciFact with bm25s still hold.
"""

from __future__ import annotations

import json
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# k1 and b come from the index settings (tuned on SciFact train: docs/ranking.md).
DEFAULT_PARAMS: dict[str, Any] = {"k1": 0.9, "b": 0.4, "method": "lucene", "stemmer": "english", "stopwords": "en"}
# What a new index folds (``tokenize``); indexes without the setting fold nothing.
FOLD = "accents"
POSTINGS = "postings.npz"
_TERM_CACHE = 4096  # terms whose scores a generation keeps ready (cleared when full)
VOCABULARY = "vocabulary.json"

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


# Letters that Unicode does not decompose into a base letter and a mark (Lucene's
# ASCIIFoldingFilter folds them too).
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th",
     "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i", "ħ": "h", "Ħ": "H",
     "ŧ": "t", "Ŧ": "T", "ŋ": "n", "Ŋ": "N", "ɨ": "i", "ƀ": "b", "ə": "e", "Ə": "E"}
)  # fmt: skip
# Combining marks right after a Latin letter (after any other script's letter they stay).
_LATIN_MARKS = re.compile("(?<=[\u0041-\u024f\u1e00-\u1eff])[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff]+")


def fold(text: str) -> str:
    """``text`` with the accents of Latin letters taken off ("Věra Jourová" → "Vera
    Jourova", "Øresund" → "Oresund"): people type names without them, and articles spell
    them either way. Marks on other scripts' letters stay (Greek tonos, a Devanagari
    virama); compatibility forms are unfolded as NFKD does ("ﬁ" → "fi", full-width letters)."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return unicodedata.normalize("NFC", _LATIN_MARKS.sub("", decomposed))


def unfolded_notice(manifest: dict[str, Any] | None) -> str | None:
    """One line for an index written before accents were folded (its manifest's BM25
    settings have no ``fold``), saying what it misses and what folds it; else None."""
    lexical = (manifest or {}).get("lexical")
    if isinstance(lexical, dict) and lexical.get("fold") == FOLD:
        return None
    return (
        "note: this index was written before names were matched without their accents "
        '("Vera Jourova" does not find "Věra Jourová" in it); `sourced index --rebuild` re-reads '
        "its sources to fold them."
    )


def tokenize(texts: Sequence[str], params: dict[str, Any]) -> list[list[str]]:
    """Lower-cased, stop-worded, stemmed word tokens, as the index was built with
    (accents folded when its ``fold`` says so; indexes written before it fold nothing)."""
    import bm25s

    if not texts:
        return []
    if params.get("fold") == FOLD:
        texts = [fold(t) for t in texts]
    return bm25s.tokenize(
        list(texts),
        stopwords=params.get("stopwords"),
        stemmer=_stemmer(params.get("stemmer")),
        return_ids=False,
        show_progress=False,
    )


@dataclass(frozen=True)
class Postings:
    """One segment's BM25 statistics: for each term, the rows holding it and how often."""

    vocabulary: dict[str, int]
    indptr: np.ndarray  # term i's postings are rows[indptr[i]:indptr[i + 1]]
    rows: np.ndarray
    tfs: np.ndarray
    lengths: np.ndarray  # tokens per row

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]]) -> Postings:
        import numpy as np

        n = len(token_lists)
        lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int32, count=n)
        flat = [t for tokens in token_lists for t in tokens]
        if not flat:
            empty = np.zeros(0, dtype=np.int32)
            return cls({}, np.zeros(1, dtype=np.int64), empty, np.zeros(0, dtype=np.float32), lengths)
        # Ids in order of first sight (a dict: far faster than sorting the tokens), then
        # renumbered so terms are in sorted order, as bm25s and a merge number them.
        first_seen: dict[str, int] = {}
        seen_ids = np.fromiter(
            (first_seen.setdefault(t, len(first_seen)) for t in flat), dtype=np.int64, count=len(flat)
        )
        terms = sorted(first_seen)
        rank = np.empty(len(terms), dtype=np.int64)
        rank[np.fromiter((first_seen[t] for t in terms), dtype=np.int64, count=len(terms))] = np.arange(len(terms))
        term_ids = rank[seen_ids]
        row_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
        # One key per (term, row), sorted by term then row: counting them gives tf, in CSC order.
        keys, tfs = np.unique(term_ids.astype(np.int64) * max(n, 1) + row_of, return_counts=True)
        cols, rows = keys // max(n, 1), keys % max(n, 1)
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.add.at(indptr, cols + 1, 1)
        return cls(
            {str(t): i for i, t in enumerate(terms)},
            np.cumsum(indptr),
            rows.astype(np.int32),
            tfs.astype(np.float32),
            lengths,
        )

    @classmethod
    def merge(cls, parts: Sequence[tuple[Postings, np.ndarray | None]]) -> Postings:
        """The postings of the live rows of ``parts``, renumbered in order (a segment merge):
        no text is tokenised again."""
        import numpy as np

        vocabulary: dict[str, int] = {}
        cols, rows, tfs, lengths = [], [], [], []
        offset = 0
        for postings, live in parts:
            n = len(postings.lengths)
            keep = np.ones(n, dtype=bool) if live is None else live
            renumber = np.cumsum(keep) - 1 + offset
            terms = sorted(postings.vocabulary, key=postings.vocabulary.__getitem__)
            global_ids = np.fromiter(
                (vocabulary.setdefault(t, len(vocabulary)) for t in terms), dtype=np.int64, count=len(terms)
            )
            term_of = np.repeat(global_ids, np.diff(postings.indptr))
            alive = keep[postings.rows]
            cols.append(term_of[alive])
            rows.append(renumber[postings.rows[alive]])
            tfs.append(postings.tfs[alive])
            lengths.append(postings.lengths[keep])
            offset += int(keep.sum())
        if not vocabulary:
            empty = np.zeros(0, dtype=np.int32)
            lens = np.concatenate(lengths) if lengths else empty
            return cls({}, np.zeros(1, dtype=np.int64), empty, np.zeros(0, dtype=np.float32), lens)
        # Terms that still have a live posting, numbered in sorted order as a fresh build does.
        merged_cols = np.concatenate(cols)
        names = sorted(vocabulary, key=vocabulary.__getitem__)
        ordered = sorted(names[i] for i in np.unique(merged_cols))
        rank = np.full(len(names), -1, dtype=np.int64)
        rank[np.fromiter((vocabulary[t] for t in ordered), dtype=np.int64, count=len(ordered))] = np.arange(
            len(ordered)
        )
        col = rank[merged_cols]
        row = np.concatenate(rows)
        tf = np.concatenate(tfs)
        order = np.lexsort((row, col))
        indptr = np.zeros(len(ordered) + 1, dtype=np.int64)
        np.add.at(indptr, col + 1, 1)
        return cls(
            {t: i for i, t in enumerate(ordered)},
            np.cumsum(indptr),
            row[order].astype(np.int32),
            tf[order].astype(np.float32),
            np.concatenate(lengths).astype(np.int32),
        )

    def save(self, folder: Path) -> None:
        import numpy as np

        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        (folder / VOCABULARY).write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        with open(folder / POSTINGS, "wb") as f:
            np.savez(f, indptr=self.indptr, rows=self.rows, tfs=self.tfs, lengths=self.lengths)

    @classmethod
    def load(cls, folder: Path) -> Postings:
        import numpy as np

        terms = json.loads((folder / VOCABULARY).read_text(encoding="utf-8"))
        with np.load(folder / POSTINGS) as data:
            return cls(
                {t: i for i, t in enumerate(terms)},
                data["indptr"],
                data["rows"],
                data["tfs"],
                data["lengths"],
            )

    def of(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        column = self.vocabulary.get(term)
        if column is None:
            return None
        a, b = int(self.indptr[column]), int(self.indptr[column + 1])
        return self.rows[a:b], self.tfs[a:b]


@dataclass(frozen=True)
class LexicalPart:
    """A segment's postings in the collection: where its rows start, and which are live."""

    postings: Postings
    base: int
    live: np.ndarray | None  # bool per row; None when nothing in the segment is deleted


class CollectionBM25:
    """BM25 over every live row of every segment, with collection-wide statistics."""

    def __init__(self, parts: Sequence[LexicalPart], rows: int, params: dict[str, Any]) -> None:
        import numpy as np

        self.parts = list(parts)
        self.rows = rows
        self.params = {**DEFAULT_PARAMS, **params}
        live_rows = 0
        live_length = 0
        for part in self.parts:
            lengths = part.postings.lengths
            if part.live is None:
                live_rows += len(lengths)
                live_length += int(lengths.sum())
            else:
                live_rows += int(part.live.sum())
                live_length += int(lengths[part.live].sum())
        self.live_rows = live_rows
        self.average_length = live_length / live_rows if live_rows else 0.0
        self._norms: list[np.ndarray] | None = None
        self._cache: dict[str, list[tuple[LexicalPart, np.ndarray, np.ndarray]]] = {}
        self._np = np

    @classmethod
    def from_texts(cls, texts: Sequence[str], params: dict[str, Any] | None = None) -> CollectionBM25:
        """BM25 over ``texts`` as one segment with nothing deleted (tests, tools)."""
        params = {**DEFAULT_PARAMS, **(params or {})}
        return cls([LexicalPart(Postings.build(tokenize(texts, params)), 0, None)], len(texts), params)

    def query_tokens(self, query: str) -> list[str]:
        return tokenize([query], self.params)[0]

    def _live_postings(self, term: str) -> list[tuple[LexicalPart, np.ndarray, np.ndarray]]:
        found = []
        for part in self.parts:
            hit = part.postings.of(term)
            if hit is None:
                continue
            rows, tfs = hit
            if part.live is not None:
                keep = part.live[rows]
                rows, tfs = rows[keep], tfs[keep]
            if len(rows):
                found.append((part, rows, tfs))
        return found

    def _idf(self, df: int) -> float:
        return math.log(1 + (self.live_rows - df + 0.5) / (df + 0.5))

    def _length_norms(self) -> list[np.ndarray]:
        """Per part, k1 (1 - b + b len / avglen) of every row: fixed for this collection."""
        if self._norms is None:
            np = self._np
            k1, b = float(self.params["k1"]), float(self.params["b"])
            self._norms = [
                (k1 * ((1 - b) + b * part.postings.lengths / self.average_length)).astype(np.float32)
                for part in self.parts
            ]
        return self._norms

    def _contributions(self, term: str) -> list[tuple[LexicalPart, np.ndarray, np.ndarray]]:
        """(part, live rows, idf x tf component) of ``term``: fixed for this generation, so
        computed once per term (bm25s computes them all at build time; the collection-wide
        statistics here are only known once a generation is read)."""
        cached = self._cache.get(term)
        if cached is not None:
            return cached
        np = self._np
        postings = self._live_postings(term)
        found = []
        if postings:
            norms = dict(zip(map(id, self.parts), self._length_norms(), strict=True))
            idf = np.float32(self._idf(sum(len(rows) for _, rows, _ in postings)))
            for part, rows, tfs in postings:
                found.append((part, rows, (idf * tfs / (tfs + norms[id(part)][rows])).astype(np.float32)))
        if len(self._cache) >= _TERM_CACHE:
            self._cache.clear()
        self._cache[term] = found
        return found

    def scores(self, query: str, tokens: Sequence[str] | None = None) -> np.ndarray:
        """BM25 score of every row (zeros for deleted rows and when no query word is indexed)."""
        np = self._np
        out = np.zeros(self.rows, dtype=np.float32)
        if not self.live_rows or self.average_length == 0:
            return out
        # A word asked twice counts twice, as in bm25s.
        for term in tokens if tokens is not None else self.query_tokens(query):
            for part, rows, contribution in self._contributions(term):
                np.add.at(out[part.base : part.base + len(part.postings.lengths)], rows, contribution)
        return out

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """Inverse document frequency of each indexed token (for highlighting)."""
        out = {}
        for token in tokens:
            postings = self._live_postings(token)
            if postings:
                out[token] = self._idf(sum(len(rows) for _, rows, _ in postings))
        return out
