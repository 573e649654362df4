"""Ranking: dense and BM25 candidates, their fusion, and a diverse final selection.

Kept as small functions over arrays so each step can be checked against a brute-force
oracle and measured on its own (``sourced bench beir`` runs every mode).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from retrieval.errors import QuestionError

if TYPE_CHECKING:
    import numpy as np

    from retrieval.config import SearchSettings
    from retrieval.store import Snapshot

MODES = ("dense", "bm25", "hybrid")
# Maximal marginal relevance orders the first this many results (what a reader sees);
# deeper results follow relevance, still one per article and near-duplicates folded.
MMR_DEPTH = 20
FUSIONS = ("convex", "rrf")
# A question opens with one of these words or ends with "?"; anything else (a claim, a
# headline, keywords) is a statement. English only, as the BM25 side is.
_QUESTION_START = re.compile(
    r"^\W*(who|whom|whose|what|which|when|where|why|how|is|are|was|were|do|does|did|can|could|"
    r"should|will|would|has|have|had|tell\s+me|tell\s+us|please|explain|describe)\b",
    re.IGNORECASE,
)


def is_question(text: str) -> bool:
    """Whether ``text`` is asked as a question (which fusion weight it gets)."""
    return text.rstrip().endswith("?") or bool(_QUESTION_START.match(text))


# Words that ask rather than say what about: left out of a question's word weight, so that
# "Who is Nicole Ozer?" is all name.
_ASKING = (
    "who whom whose what which when where why how is are was were do does did done can could "
    "should will would has have had say said says tell told know about happen happened "
    # how people ask in conversation: "Tell me about NAME", "Who is NAME exactly?"
    "me you us please exactly explain describe anything"
)
# The adapted weight starts to move once the names carry this share of the question's word
# weight, and reaches ``name_alpha`` when they carry all of it (tuned on dev train: quiz
# questions with a name in them stay below it, docs/quality.md).
NAME_SHARE_FROM = 0.7
# Which words no passage holds count as specific asks: only names and numbers ("named") or
# any word ("all"); chosen on dev train (docs/quality.md).
UNKNOWN_WORDS = "all"
# How much of the rarest word's weight a missing *common* word carries: a lowercase word
# the embedding model knows whole ("belong", "signed"). In a small collection many everyday
# words are in no passage, and their absence says the articles word it otherwise, not that
# they lack what is asked; a missing name or rare word ("Texas", "Clearview") keeps it all.
COMMON_UNKNOWN = 1.0
# A word that names something: capitalised after the first word ("Nicole Ozer", "Texas"),
# or a number ("2019", "98").
_NAME_WORD = re.compile(r"(?<![\w'’-])(?:[^\W\d_a-z][\w'’.-]*|\d[\d,.]*)")
# Where a sentence starts: at the start, or after ? ! or a full stop that does not end an
# abbreviation ("U.S.", "Dr.", a middle initial). Opening quotes and brackets between count
# as nothing.
_OPENERS = " \t\n\"'“‘«([“"
_ABBREVIATION = re.compile(
    r"(?:\b[^\W\d_]\.|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Sen|Rep|Gov|Gen|Lt|Col|Capt|Prof|No|vs|Mt|Ft)\.)$"
)


def _starts_sentence(before: str) -> bool:
    before = before.rstrip(_OPENERS)
    if not before or before[-1] in "?!":
        return True
    return before[-1] == "." and _ABBREVIATION.search(before) is None


def name_words(question: str) -> list[str]:
    """The words of ``question`` that name something: capitalised ones that do not start a
    sentence (every word does, capitalised anyway) and are not asking words ("Nicole Ozer
    was quoted. What did she say?" names Nicole Ozer, not "What"), and numbers anywhere."""
    out = []
    for m in _NAME_WORD.finditer(question):
        word = m.group()
        # Inside a sentence a capitalised word names something, an asking word too ("Will
        # Smith", "Edward Said"); one that starts a sentence is capitalised anyway.
        if word[0].isdigit() or (word[0].isupper() and not _starts_sentence(question[: m.start()])):
            out.append(word)
    return out


@dataclass(frozen=True, slots=True)
class Specifics:
    """What a question asks about specifically, as BM25 tokens (docs/quality.md, issue 29).

    ``named``: tokens of its names and numbers (capitalised words after the first, digits)
    that the collection holds, with their IDF; ``unknown``: tokens of any of its words that
    no passage holds; ``total``: the IDF of every question token the collection holds;
    ``about``: its tokens less the asking words (who, is, did…; a name stays even so).
    """

    named: Mapping[str, float]
    unknown: frozenset[str]
    total: float
    top_idf: float  # the IDF of a word in one passage: what an unknown word weighs
    about: tuple[str, ...] = ()
    common: frozenset[str] = frozenset()  # unknown tokens of common words (COMMON_UNKNOWN)

    @property
    def share(self) -> float:
        """How much of the question's word weight is its names and numbers (0..1)."""
        return min(1.0, sum(self.named.values()) / self.total) if self.total > 0 else 0.0

    @property
    def missing(self) -> float:
        """What the question's words that no passage holds weigh together."""
        common = len(self.unknown & self.common)
        return self.top_idf * (len(self.unknown) - common + COMMON_UNKNOWN * common)

    def presence(self, tokens: set[str]) -> float | None:
        """IDF-weighted share of the specific tokens in ``tokens`` (a shown passage), or
        None when the question names nothing specific."""
        weight = sum(self.named.values()) + self.missing
        if weight <= 0:
            return None
        return sum(w for t, w in self.named.items() if t in tokens) / weight


def specifics(question: str, tokens: Sequence[str], idf: Mapping[str, float], lexical) -> Specifics:
    """The :class:`Specifics` of ``question``; ``tokens`` are its BM25 tokens and ``idf``
    their IDF in the collection (``lexical.idf``), missing for tokens it does not hold."""
    # Any script's capitals ("Özer", "Łukasz"), not only A-Z.
    words = name_words(question)
    named_tokens = set(lexical.query_tokens(" ".join(words))) if words else set()
    asking = set(lexical.query_tokens(_ASKING))
    tokens = [t for t in tokens if t not in asking or t in named_tokens]
    named = {t: idf[t] for t in named_tokens if t in idf}
    pool = tokens if UNKNOWN_WORDS == "all" else [t for t in tokens if t in named_tokens]
    unknown = frozenset(t for t in pool if t not in idf)
    rows = max(int(getattr(lexical, "live_rows", 0)), 1)
    top_idf = math.log(1 + (rows - 0.5) / 1.5)
    common: frozenset[str] = frozenset()
    if unknown and COMMON_UNKNOWN != 1.0:
        known = common_words()
        plain = {w for w in re.findall(r"[a-z]+", question) if w in known}  # lowercase as asked
        common = frozenset(lexical.query_tokens(" ".join(plain))) & unknown
    return Specifics(named, unknown, sum(idf.get(t, 0.0) for t in set(tokens)), top_idf, tuple(tokens), common)


@functools.cache
def common_words() -> frozenset[str]:
    """The whole words of the packaged embedding model's word-piece vocabulary (about
    20,000 of English's most frequent words): what counts as an everyday word."""
    from retrieval.embedding.base import packaged_model_path

    words = (packaged_model_path() / "vocab.txt").read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and w.isascii() and w.islower())


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrict a search to some documents. Dates compare with ``published``."""

    since: datetime | None = None
    until: datetime | None = None
    outlet: str | None = None
    source: str | None = None
    # Only these articles (by id), e.g. the ones a refresh just brought, for alerts.
    documents: frozenset[str] | None = None

    def active(self) -> bool:
        return any(v is not None for v in (self.since, self.until, self.outlet, self.source, self.documents))

    def rows(self, snap: Snapshot) -> np.ndarray | None:
        """The index rows that pass, or None when nothing is filtered."""
        if not self.active():
            return None
        if self.since and self.until and self.since >= self.until:
            raise QuestionError("--since must be earlier than --until.")
        import numpy as np

        rows = None
        if self.documents is not None:
            rows = snap.rows_of_documents(self.documents)
            if not any(v is not None for v in (self.since, self.until, self.outlet, self.source)):
                return rows
        where = snap.rows_where(
            self.since.isoformat() if self.since else None,
            self.until.isoformat() if self.until else None,
            self.outlet,
            self.source,
        )
        return where if rows is None else np.intersect1d(rows, where)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One passage in the running: its fused score, cosine similarity and BM25 score."""

    row: int
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True)
class FusionParams:
    fusion: str = "convex"
    alpha: float = 0.5  # weight of the dense side in convex fusion
    rrf_k: int = 60
    # Weight of the dense side for questions; None: ``alpha`` for everything. A question
    # rarely shares the answer's words (it asks "who urged", the passage says "called
    # on"), a claim restates them, so the two are weighted apart (docs/quality.md).
    question_alpha: float | None = None
    # Dense weight for a question made only of names and numbers ("Who is Nicole Ozer?");
    # between that and the usual weight by the share of the question's word weight (IDF)
    # its names carry. None: no such adaptation. The model blurs names it does not know,
    # BM25 matches them exactly (docs/quality.md, issue 29).
    name_alpha: float | None = None

    @classmethod
    def from_settings(cls, search: SearchSettings) -> FusionParams:
        return cls(search.fusion, search.alpha, search.rrf_k, search.question_alpha, search.name_alpha)

    def alpha_for(self, question: str, name_share: float = 0.0) -> float:
        alpha = self.alpha
        asked = is_question(question)
        if self.question_alpha is not None and asked:
            alpha = self.question_alpha
        # Questions only: claims and keyword searches keep the weight tuned on SciFact.
        if self.name_alpha is not None and asked and name_share > NAME_SHARE_FROM:
            alpha -= (alpha - min(alpha, self.name_alpha)) * (name_share - NAME_SHARE_FROM) / (1 - NAME_SHARE_FROM)
        return alpha


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    import numpy as np

    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


def _minmax(values: np.ndarray) -> np.ndarray:
    import numpy as np

    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    return (values - lo) / (hi - lo)


def _ranks(values: np.ndarray) -> np.ndarray:
    import numpy as np

    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def retrieve(
    snap: Snapshot,
    query_vector: np.ndarray | None,
    question: str,
    mode: str,
    n: int,
    params: FusionParams = FusionParams(),
    allowed: np.ndarray | None = None,
    query_tokens: Sequence[str] | None = None,
) -> list[Candidate]:
    """The best ``n`` passages for a question by ``mode``, best first."""
    import numpy as np

    if mode not in MODES:
        raise QuestionError(f"Unknown search mode {mode!r}; use one of {', '.join(MODES)}.")
    rows: list[int] = []
    lexical_all = None
    if mode in ("bm25", "hybrid"):
        lexical_all = snap.lexical.scores(question, query_tokens)
        if allowed is not None:
            mask = np.zeros(len(lexical_all), dtype=bool)
            mask[allowed] = True
            lexical_all = np.where(mask, lexical_all, 0.0).astype(np.float32)
        top = _top(lexical_all, n)
        rows += [int(r) for r in top if lexical_all[r] > 0]
    if mode in ("dense", "hybrid"):
        rows += [row for row, _ in snap.search(query_vector, n, allowed)]
    if not rows:
        return []
    rows_arr = np.array(list(dict.fromkeys(rows)), dtype=np.int64)
    dense = snap.vectors(rows_arr) @ query_vector if query_vector is not None else np.zeros(len(rows_arr))
    lexical = lexical_all[rows_arr] if lexical_all is not None else np.zeros(len(rows_arr))
    if mode == "dense":
        fused = dense
    elif mode == "bm25":
        fused = lexical
    elif params.fusion == "rrf":
        fused = 1.0 / (params.rrf_k + _ranks(dense)) + 1.0 / (params.rrf_k + _ranks(lexical))
    else:
        share = 0.0
        if params.name_alpha is not None and is_question(question):
            toks = query_tokens if query_tokens is not None else snap.lexical.query_tokens(question)
            share = specifics(question, toks, snap.lexical.idf(toks), snap.lexical).share
        alpha = params.alpha_for(question, share)
        fused = alpha * _minmax(dense) + (1.0 - alpha) * _minmax(lexical)
    order = np.argsort(-fused, kind="stable")[:n]
    return [Candidate(int(rows_arr[i]), float(fused[i]), float(dense[i]), float(lexical[i])) for i in order]


@dataclass
class Selected:
    """A passage chosen for the answer, with what was folded into it."""

    candidate: Candidate
    doc_id: str
    more_in_document: int = 0
    duplicate_rows: list[int] = field(default_factory=list)


def select(
    candidates: Sequence[Candidate],
    doc_of: Callable[[int], str],
    vectors: np.ndarray,
    k: int,
    per_document: int = 1,
    duplicate_threshold: float = 0.95,
    mmr_lambda: float = 1.0,
    stories: Mapping[str, np.ndarray] | None = None,
    same_story: float = 1.01,
) -> list[Selected]:
    """Pick ``k`` passages: at most ``per_document`` per article, near-duplicates folded.

    ``vectors[i]`` is the unit vector of ``candidates[i]``. With ``mmr_lambda < 1`` the
    order of the first ``MMR_DEPTH`` follows maximal marginal relevance (relevance minus
    similarity to what is already chosen), so five passages saying the same thing do not
    crowd out the rest.
    ``stories`` maps a document id to its MinHash signature: an article whose signature
    agrees with a chosen one's on at least ``same_story`` of its values is another copy
    of that story (wire copy under another outlet's headline) and is folded into it.
    """
    import numpy as np

    if not candidates:
        return []
    mmr = mmr_lambda < 1.0
    relevance = np.array([c.score for c in candidates], dtype=np.float64)
    if mmr:
        relevance = _minmax(relevance)
    live = np.ones(len(candidates), dtype=bool)
    remaining = len(candidates)
    # Each candidate's highest similarity to the first MMR_DEPTH passages chosen, updated
    # once per choice (recomputing it every round was O(k^2 x candidates)). It serves MMR
    # and the near-duplicate test; passages chosen deeper are compared with directly.
    closest = np.full(len(candidates), -np.inf)
    deep = np.empty((max(0, k - MMR_DEPTH), vectors.shape[1] if vectors.ndim == 2 else 0), dtype=vectors.dtype)
    chosen: list[Selected] = []
    chosen_idx: list[int] = []
    per_doc: dict[str, Selected] = {}
    counts: dict[str, int] = {}
    copies: set[str] = set()  # articles folded into a chosen copy of the same story
    story_rows = np.empty((k, 0 if not stories else len(next(iter(stories.values())))), dtype=np.uint32)
    story_owner: list[Selected] = []  # the chosen article each row of story_rows is
    while len(chosen) < k and remaining:
        if mmr and chosen_idx and len(chosen) < MMR_DEPTH:
            gains = np.where(live, mmr_lambda * relevance - (1 - mmr_lambda) * closest, -np.inf)
            pick = int(np.argmax(gains))
        else:
            pick = int(np.argmax(live))  # the best remaining
        live[pick] = False
        remaining -= 1
        cand = candidates[pick]
        doc_id = doc_of(cand.row)
        if doc_id in copies:
            continue
        if story_owner and doc_id not in counts and doc_id in stories:
            agree = (story_rows[: len(story_owner)] == stories[doc_id]).mean(axis=1)
            best = int(np.argmax(agree))
            if agree[best] >= same_story:
                story_owner[best].duplicate_rows.append(cand.row)
                copies.add(doc_id)
                continue
        if counts.get(doc_id, 0) >= per_document:
            per_doc[doc_id].more_in_document += 1
            continue
        if chosen_idx:
            n_deep = len(chosen_idx) - MMR_DEPTH
            near = closest[pick]
            if n_deep > 0:
                near = max(near, float((deep[:n_deep] @ vectors[pick]).max()))
            if near >= duplicate_threshold:
                sims = vectors[chosen_idx] @ vectors[pick]
                chosen[int(np.argmax(sims))].duplicate_rows.append(cand.row)
                continue
        entry = Selected(cand, doc_id)
        chosen.append(entry)
        chosen_idx.append(pick)
        if len(chosen) <= MMR_DEPTH:
            np.maximum(closest, vectors @ vectors[pick], out=closest)
        else:
            deep[len(chosen) - MMR_DEPTH - 1] = vectors[pick]
        if stories and doc_id not in per_doc and doc_id in stories:
            story_rows[len(story_owner)] = stories[doc_id]
            story_owner.append(entry)
        per_doc.setdefault(doc_id, entry)
        counts[doc_id] = counts.get(doc_id, 0) + 1
    # Passages beyond the k chosen still count as "more from this article", and copies of
    # a chosen story still fold into it (who else reported it must not depend on -k).
    for idx in np.flatnonzero(live):
        row = candidates[int(idx)].row
        doc_id = doc_of(row)
        if doc_id in per_doc:
            per_doc[doc_id].more_in_document += 1
        elif story_owner and doc_id not in copies and doc_id in stories:
            agree = (story_rows[: len(story_owner)] == stories[doc_id]).mean(axis=1)
            best = int(np.argmax(agree))
            if agree[best] >= same_story:
                story_owner[best].duplicate_rows.append(row)
                copies.add(doc_id)
    return chosen


def cite_earliest(
    chosen: list[Selected],
    candidates: Sequence[Candidate],
    doc_of: Callable[[int], str],
    published: Mapping[str, datetime | None],
) -> None:
    """Show each story under its earliest copy: a wire story another outlet ran first is
    cited at that outlet, the later ones "also reported by" (it was the other way round
    when the later copy ranked first). The copy's own best passages then compete for the
    sentence shown, as the chosen article's did: it is the same story, told in the same
    words."""
    best: dict[str, Candidate] = {}
    count: dict[str, int] = {}
    for c in candidates:
        d = doc_of(c.row)
        count[d] = count.get(d, 0) + 1
        if d not in best or c.score > best[d].score:
            best[d] = c
    for entry in chosen:
        mine = published.get(entry.doc_id)
        if mine is None:
            continue
        earlier = []
        for d in {doc_of(r) for r in entry.duplicate_rows} - {entry.doc_id}:
            when = published.get(d)
            if when is not None and when < mine and d in best:
                earlier.append((when, d))
        if not earlier:
            continue
        _, first = min(earlier)
        kept = [r for r in entry.duplicate_rows if doc_of(r) != first]
        entry.duplicate_rows = [*kept, entry.candidate.row]
        entry.candidate, entry.doc_id = best[first], first
        entry.more_in_document = count[first] - 1
