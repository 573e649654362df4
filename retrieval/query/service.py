"""The one query service every adapter (CLI, Discord bot, benchmarks) goes through.

:class:`QueryService` is synchronous and safe to call from many threads at once; the bot
calls it through ``asyncio.to_thread``. It notices when the index on disk has been
replaced (by ``sourced index`` or ``/reindex``) and switches to the new generation
between questions, so a long-running process never needs a restart.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from retrieval.config import SearchSettings
from retrieval.embedding import Embedder
from retrieval.errors import IndexMismatchError, QuestionError
from retrieval.query.answerable import load_model, read_signals
from retrieval.query.asked import asked_kind, holds
from retrieval.query.highlight import sentence_coverage
from retrieval.query.ranking import (
    NAME_SHARE_FROM,
    Candidate,
    Filters,
    FusionParams,
    cite_earliest,
    retrieve,
    select,
    specifics,
)
from retrieval.query.rerank import Scorer
from retrieval.query.strength import STRONG, rate
from retrieval.store import Snapshot, Store
from retrieval.types import Answer, Document, Hit

if TYPE_CHECKING:
    import numpy as np

# Control characters, and the invisible ones that are never part of a word (zero-width
# space, word joiner, byte-order mark): a question of only those is empty.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Invisible inside a word (a name pasted from a web page: "Qui\u200bñones"): taken out, not
# made a space that splits the name in two.
_INVISIBLE = re.compile(r"[\u00ad\u200b\u2060\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_RESULTS = 100
# Candidates fetched per result wanted: deep pages need spare passages, as several come
# from one article and only one per article is shown.
POOL_FACTOR = 4
# A follow-up as searched (its words and the ones it borrows) is cut to this length.
MAX_FOLLOWUP_CHARS = 1000
# For the first this many results of a page, an article's best passages compete at
# sentence level for the one shown; deeper results show their best passage (a deep list
# is for scripts and stays cheap).
COMPETE_RESULTS = 10
# `answered` and `confidence` are judged on this many first results (as `evidence` is).
VERDICT_DEPTH = 3
# How the sentence shown in bold is chosen among an article's best passages: its cosine,
# plus this much of the IDF share of the question's words it holds, plus KIND_BONUS when it
# holds the kind of thing asked for (retrieval.query.asked). Chosen on dev train (docs/quality.md).
SENTENCE_COVERAGE = 0.5
KIND_BONUS = 0.1
# Whether the asking words (who, which, is…) are left out of that share.
SENTENCE_SKIPS_ASKING = True
# Whether an article's first passage also competes for the one shown (when it is a
# candidate). Measured and off: it put one bundled answer in the top 3 and took two
# follow-up answers out (docs/quality.md, issue 29 third round).
LEAD_COMPETES = False


# How stats() lists the articles that name no outlet (not an outlet: never counted as one).
UNKNOWN_OUTLET = "(unknown outlet)"


@dataclass(frozen=True)
class SourceInfo:
    """A registered source as `sourced sources` and /sources show it."""

    key: str
    kind: str
    added: str
    articles: int
    last_sync: str | None
    problem: str | None


@dataclass(frozen=True)
class IndexStats:
    """What is indexed: for `sourced sources` and the bot's /sources."""

    documents: int
    chunks: int
    outlets: dict[str, int]
    newest: datetime | None
    model_id: str
    generation: str
    created: str | None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _without(text: str, phrases: tuple[str, ...]) -> str:
    """``text`` with each of ``phrases`` (as found in it, any case) taken out."""
    for phrase in phrases:  # whole words only: "now" is not taken out of "Snowdon"
        text = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", " ", text, flags=re.IGNORECASE)
    return text


_UNDATED = datetime.max.replace(tzinfo=UTC)  # an article with no date sorts after dated ones


def _after(published: datetime | None, cap: datetime) -> bool:
    return published is not None and published >= cap


def valid_text(text: str) -> str:
    """``text`` with every code point that UTF-8 cannot carry replaced by U+FFFD.

    Those are surrogates: an invalid byte read from stdin or argv (surrogateescape makes
    b"\\xff" into "\\udcff"), or a lone "\\ud83d" from JSON. Every backend must get valid
    text: the ONNX tokenizer refuses them with a TypeError, for instance."""
    if not _SURROGATE.search(text):
        return text
    # Escaped bytes first back to bytes, so a valid multi-byte sequence is recovered whole.
    text = _SURROGATE.sub(lambda m: m[0] if "\udc80" <= m[0] <= "\udcff" else "\ufffd", text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def clean_question(question: str, max_chars: int) -> str:
    """The question as searched, or :class:`QuestionError` saying what is wrong with it."""
    if isinstance(question, (bytes, bytearray)):
        question = bytes(question).decode("utf-8", "replace")
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    # NFKC: a question typed in full-width letters ("Ｎｉｃｏｌｅ"), with ligatures or
    # compatibility digits asks what its plain form asks.
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", valid_text(question)))
    text = " ".join(_CONTROL.sub(" ", text).split())
    if not text:
        raise QuestionError(
            "The question is empty. Ask something, e.g. “who urged Amazon to stop selling Rekognition?”"
        )
    if len(text) > max_chars:
        raise QuestionError(
            f"The question is {len(text)} characters long; the limit is {max_chars}. Please shorten it."
        )
    return text


class QueryService:
    """Answers questions from the index in one folder."""

    def __init__(
        self,
        store: Store,
        embedder_factory: Callable[[], Embedder],
        settings: SearchSettings | None = None,
        reranker: Callable[[], Scorer | None] | None = None,
    ) -> None:
        """``reranker``: makes the answer re-ranker (retrieval.query.rerank); by default the
        shipped one, unless ``search.rerank`` is off or the embedder is the hash embedder
        (a stand-in for tests with no model, so no re-ranker either)."""
        self.store = store
        self.settings = settings or SearchSettings()
        self._embedder_factory = embedder_factory
        self._embedder: Embedder | None = None
        self._reranker_factory = reranker
        self._reranker: Scorer | None = None
        self._reranker_made = False
        self._snapshot: Snapshot | None = None
        self._dates: tuple[str, dict[str, datetime | None]] | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    self._embedder = self._embedder_factory()
        return self._embedder

    def reranker(self) -> Scorer | None:
        """The answer re-ranker in use, or None (``search.rerank`` off)."""
        if not self.settings.rerank:
            return None
        if not self._reranker_made:
            with self._lock:
                if not self._reranker_made:
                    if self._reranker_factory is not None:
                        self._reranker = self._reranker_factory()
                    elif not str(getattr(self._embedder or self._embedder_factory(), "model_id", "")).startswith(
                        "hash"
                    ):
                        from retrieval.query.rerank import CrossEncoder

                        self._reranker = CrossEncoder(max_tokens=self.settings.rerank_tokens)
                    self._reranker_made = True
        return self._reranker

    def snapshot(self) -> Snapshot:
        """The live index generation, reopened if a writer replaced it since last time."""
        name = self.store.current_name()
        snap = self._snapshot
        if snap is None or snap.generation != name:
            with self._lock:
                snap = self._snapshot
                if snap is None or snap.generation != self.store.current_name():
                    snap = self.store.open()
                    self._check_model(snap)
                    self._snapshot = snap
        return snap

    def _check_model(self, snap: Snapshot) -> None:
        embedder = self._embedder or self._embedder_factory()
        self._embedder = embedder
        if snap.model_id != embedder.model_id or snap.dimension != embedder.dimension:
            raise IndexMismatchError(
                f"The index at {self.store.where} was built with the model {snap.model_id} "
                f"({snap.dimension} dimensions) but the configured model is {embedder.model_id}. "
                "Run `sourced index` to rebuild it with the configured model."
            )

    def candidates(
        self,
        snap: Snapshot,
        question: str,
        tokens: list[str],
        n: int,
        mode: str | None,
        filters: Filters | None,
        vectors: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, list[Candidate]]:
        """The question's plain and ranking vectors (``embedding.adapter.query_vectors``,
        unless given) and its ``n`` best passages before grouping by article."""
        from retrieval.embedding.adapter import query_vectors

        mode = mode or self.settings.mode
        plain, vector = vectors if vectors is not None else query_vectors(self.embedder, question)
        allowed = filters.rows(snap) if filters else None
        params = FusionParams.from_settings(self.settings)
        return plain, vector, retrieve(snap, vector, question, mode, n, params, allowed, tokens)

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        offset: int = 0,
        mode: str | None = None,
        previous: str | None = None,
        previous_weight: float = 0.5,
        as_of: datetime | None = None,
        recency: float | None = None,
    ) -> Answer:
        """The best passages for ``question``; ``offset`` skips that many (for "more results").

        ``previous``: the question this one follows up (retrieval.query.followup); the answer's
        ``question`` is then the text as searched, and the question vector leans on it by
        ``previous_weight`` (0: the follow-up's own words only).

        ``as_of``: the moment taken as now (default: now). Nothing published after its day
        is shown, time words in the question ("last week", "in 2018", "latest") are read
        relative to it, and the recency prior (``recency``, default ``search.recency``)
        leans towards articles published shortly before it. A date range read from the
        question gives way to all dates when nothing in it answers (the answer says so)."""
        from retrieval.query.when import describe_range, end_of_day, now_utc, read_question

        started = time.perf_counter()
        text = clean_question(question, self.settings.max_question_chars)
        k = k or self.settings.k
        if not 1 <= k <= MAX_RESULTS or not 0 <= offset <= MAX_RESULTS:
            raise QuestionError(f"The number of results must be between 1 and {MAX_RESULTS}.")
        vectors = None
        if previous:
            text, vectors = self._followup(text, clean_question(previous, 10 * MAX_FOLLOWUP_CHARS), previous_weight)
        filters = filters or Filters()
        now = as_of or now_utc()
        # An explicit as-of day is a filter (the pool is filled with what may be shown);
        # "now" drops any article dated in the future after ranking, which costs nothing.
        cap = end_of_day(now)
        if as_of is not None:
            filters = dataclasses.replace(filters, until=min(filters.until, cap) if filters.until else cap)
        weight = self.settings.recency if recency is None else recency
        reading = read_question(text, now) if self.settings.read_dates else None
        asked = filters
        notes = []
        if reading:
            if reading.recent:
                weight *= self.settings.recency_latest
            since = filters.since if filters.since is not None else reading.since
            until = filters.until
            if reading.until is not None and filters.until is None:
                until = reading.until
            elif reading.until is not None:
                until = min(filters.until, reading.until)
            if (since, until) != (filters.since, filters.until):
                asked = dataclasses.replace(filters, since=since, until=until)
            phrases = ", ".join(f"“{p}”" for p in reading.phrases)
            notes.append(f"{reading.describe()} (from {phrases})" if phrases else reading.describe())

        def run(chosen: Filters) -> Answer:
            # Words read as time ("in 2018", "before 2022", "latest") are not what the
            # passages must hold once they are a filter or the recency prior: "2018" is in
            # the dates searched, rarely in the text. Searched all dates, they count again.
            timed = tuple(reading.phrases) if reading and (chosen is asked or reading.recent) else ()
            try:
                return self._ask(text, k, chosen, offset, mode, started, vectors, now, cap, weight, timed)
            except (OSError, sqlite3.Error):
                # A writer replaced the index and removed the generation this thread was
                # still opening: forget it and answer from the live one.
                with self._lock:
                    self._snapshot = None
                return self._ask(text, k, chosen, offset, mode, started, vectors, now, cap, weight, timed)

        # The question's own dates (within the flags'), searched unless they give way below;
        # also when the flags set just those dates (asked is then the flags themselves).
        read = (asked.since, asked.until) if reading and (reading.since or reading.until) else None
        gave_way = False

        def said_until(until: datetime | None) -> datetime | None:
            # The bound an as-of day sets is said as "as of …", not as a date range.
            return None if as_of is not None and until == cap else until

        if asked.since and asked.until and asked.since >= asked.until and asked is not filters:
            answer = None  # the question's range is empty as of this day
        else:
            answer = run(asked)
        if asked is not filters and (answer is None or not answer.answered):
            fallback = run(filters)
            if answer is None or fallback.answered or not answer.hits:
                span = describe_range(asked.since, asked.until)
                # What was searched instead: every date, or the range the flags set (they
                # win over the question's, and still bound what is shown).
                searched = describe_range(filters.since, said_until(filters.until))
                instead = f"searched {searched}" if searched else "all dates"
                first = fallback.hits[0].document.published if fallback.hits else None
                inside = first is not None and _within_span(first, asked.since, asked.until)
                if answer is None and asked.since and asked.until and asked.since >= asked.until:
                    notes = [f"the question's dates are outside the dates set: {instead}"]
                elif inside and fallback.answered and span:
                    # Searched with its time words as words, the answer is within its dates
                    # after all: "nothing … answers" above an answer from then would contradict it.
                    notes = [f"{span}, found searching {searched or 'all dates'} with {phrases} as words"]
                else:
                    notes = [f"nothing {span} answers: {instead}" if span else instead]
                answer, asked, gave_way = fallback, filters, True
        if as_of is not None:
            notes.append(f"as of {now.date().isoformat()}")
        excluded = None
        shown = dataclasses.replace(asked, until=min(asked.until, cap) if asked.until else cap)
        empty = shown.since is not None and shown.since >= shown.until  # since a day after today
        if not answer.hits and asked.active() and (empty or len(shown.rows(self.snapshot())) == 0):
            parts = [describe_range(asked.since, said_until(asked.until))]
            parts += [
                f"outlet “{asked.outlet}”" if asked.outlet else "",
                f"source {asked.source}" if asked.source else "",
            ]
            parts.append(f"as of {now.date().isoformat()}" if as_of is not None else "")
            excluded = "; ".join(p for p in parts if p) or "the filters set"
        return dataclasses.replace(
            answer,
            as_of=as_of,
            since=asked.since,
            until=asked.until,
            understood="; ".join(n for n in notes if n) or None,
            question_dates=read,
            question_dates_searched=read is not None and not gave_way,
            excluded=excluded,
        )

    def timeline(
        self,
        question: str,
        filters: Filters | None = None,
        as_of: datetime | None = None,
        limit: int = 30,
    ) -> Answer:
        """The passages that answer ``question``, one per story with wire copies folded,
        oldest first. None when /ask does not count the question answered; else /ask's
        first result and every story /ask shows above its answering threshold
        (:meth:`answering`, the same test as alerts). Ranked without the recency prior:
        a timeline is about every date."""
        answer = self.ask(question, k=min(limit, MAX_RESULTS), filters=filters, as_of=as_of, recency=0.0)
        answering = self.answering(answer)
        oldest = datetime.min.replace(tzinfo=UTC)
        ordered = sorted(answering, key=lambda h: (h.document.published is None, _utc(h.document.published) or oldest))
        hits = tuple(dataclasses.replace(h, rank=n) for n, h in enumerate(ordered, start=1))
        return dataclasses.replace(answer, hits=hits, answered=bool(hits))

    def answering(self, answer: Answer) -> list[Hit]:
        """The hits of ``answer`` that answer: none when it is not ``answered`` (so nothing
        /ask marks low confidence is listed or alerted); else its first result, and every
        other that reads "strong" (what the terminal, Discord and the web page show above
        "below the answering threshold": an alert never lists a result the page marks as
        filler) and whose passage or sentence reaches ``search.min_score`` (a strong figure
        rescaled from the first result's says the ranking is close; the cosine says the
        passage itself is on the question). Timelines and alerts share this test."""
        if not answer.answered:
            return []
        threshold = self.settings.min_score
        return [
            h
            for n, h in enumerate(answer.hits)
            if n == 0 or (h.label == STRONG and max(h.similarity, h.sentence_similarity) >= threshold)
        ]

    def _followup(self, followup: str, previous: str, weight: float):
        """(text as searched, (plain, ranking) vectors) of a follow-up question."""
        import numpy as np

        from retrieval.embedding.adapter import query_vectors
        from retrieval.query.followup import understood

        searched = understood(previous, followup)[:MAX_FOLLOWUP_CHARS]
        own = query_vectors(self.embedder, followup)
        full = query_vectors(self.embedder, searched)
        mixed = []
        for a, b in zip(own, full, strict=True):
            v = (1.0 - weight) * a + weight * b
            mixed.append((v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32))
        return searched, (mixed[0], mixed[1])

    def _ask(
        self,
        text: str,
        k: int,
        filters: Filters | None,
        offset: int,
        mode: str | None,
        started: float,
        vectors: tuple[np.ndarray, np.ndarray] | None = None,
        now: datetime | None = None,
        cap: datetime | None = None,
        recency: float = 0.0,
        timed: tuple[str, ...] = (),
    ) -> Answer:
        import numpy as np

        from retrieval.query.recency import recency_prior

        wanted = offset + k
        pool = max(self.settings.candidates, wanted * self.settings.per_document * POOL_FACTOR)
        snap = self.snapshot()
        tokens = snap.lexical.query_tokens(text)
        plain, qvec, candidates = self.candidates(snap, text, tokens, pool, mode, filters, vectors)
        refs = snap.chunk_refs([c.row for c in candidates])
        published = self._published(snap, {refs[c.row][0] for c in candidates if c.row in refs})
        if cap is not None:  # nothing from after the as-of day (an article dated in the future)
            candidates = [c for c in candidates if c.row in refs and not _after(published[refs[c.row][0]], cap)]
        if now is not None and recency > 0:
            candidates = recency_prior(
                [c for c in candidates if c.row in refs],
                lambda row: published[refs[row][0]],
                now,
                recency,
                self.settings.recency_half_life_days,
            )
        # Exact ties go by date, then article and position, not by row number: rows are
        # numbered differently once segments merge, and the answer must not change when
        # they do. One text published twice (a reprint, wire copy) ties exactly: the
        # earliest is the one cited, the others "also reported by".
        candidates = sorted(
            (c for c in candidates if c.row in refs),
            key=lambda c: (-c.score, published.get(refs[c.row][0]) or _UNDATED, refs[c.row][:2]),
        )
        reranker = self.reranker()
        support: dict[int, float] | None = None
        if reranker is not None and candidates:
            candidates, support = self._rerank(reranker, snap, text, candidates, refs)
        vectors = snap.vectors([c.row for c in candidates]) if candidates else np.zeros((0, 1), np.float32)
        stories = None
        if self.settings.same_story <= 1.0:
            stories = snap.signatures({refs[c.row][0] for c in candidates})
        chosen = select(
            candidates,
            lambda row: refs[row][0],
            vectors,
            wanted,
            self.settings.per_document,
            self.settings.duplicate_threshold,
            self.settings.mmr_lambda,
            stories,
            self.settings.same_story,
        )
        cite_earliest(chosen, candidates, lambda row: refs[row][0], {d: _utc(v) for d, v in published.items()})
        shown_tokens: list[set[str]] = []
        shown_rows: list[int] = []
        idf = snap.lexical.idf(tokens)
        if timed:  # the question's words less those read as time (see ask)
            plain_text = _without(text, timed)
            found = specifics(plain_text, snap.lexical.query_tokens(plain_text), idf, snap.lexical)
        else:
            found = specifics(text, tokens, idf, snap.lexical)
        # The question's words that say what it is about (found.about): who/which/is… say
        # nothing of it, and a sentence holding "which" is no closer to the answer.
        hits = self._hits(
            list(found.about) if SENTENCE_SKIPS_ASKING else tokens,
            qvec,
            plain,
            snap,
            refs,
            candidates,
            chosen,
            offset,
            shown_tokens,
            support or {},
            shown_rows,
            text,
            idf,
        )
        # Confidence describes what is shown first: the closest of the page's first
        # VERDICT_DEPTH passages or sentences, by cosine, so that `-k 1` and `-k 5` judge
        # one answer alike. A close passage that did not make it there must not vouch for
        # them, nor page 1 for page 2 ("more results" is judged on what it shows).
        confidence = max((max(h.similarity, h.sentence_similarity) for h in hits[:VERDICT_DEPTH]), default=0.0)
        evidence = max(
            (p for p in (found.presence(t) for t in shown_tokens[:VERDICT_DEPTH]) if p is not None), default=None
        )
        signals = None
        if hits:
            content = {t: idf[t] for t in set(found.about) if t in idf}
            signals = read_signals(
                confidence,
                hits[0].sentence_similarity,
                candidates,
                lambda row: refs[row][0],
                found,
                content,
                shown_tokens,
            )
        threshold: float | None = None  # the answer model's, when it decides
        if support is not None:
            # What the re-ranker says of the first three passages shown (it read them all
            # when they are among the rerank_depth best; one shown from deeper counts 0).
            best = max((support.get(row, 0.0) for row in shown_rows[:3]), default=0.0)
            answered = bool(hits) and best >= self.settings.rerank_min
            decided_by = "re-ranker"
        else:
            best = None
            answered = bool(hits) and self._answered(confidence, evidence)
            decided_by = "min_score"
            # Fitted on the hybrid ranking's signals: bm25 or dense alone reads them otherwise.
            fitted = self.settings.answer_model and signals is not None and (mode or self.settings.mode) == "hybrid"
            model = load_model(snap.model_id) if fitted else None
            if model is not None:
                best = model.probability(signals)
                named = self.settings.named_min_score
                # A name question ("Who is Nicole Ozer?": its names carry most of its word
                # weight) whose names are all shown is answered (issue 29's rule). Not any
                # question with a name: "What is the population of Canada?" is not answered
                # by a passage that says "Canada".
                shown_all = (
                    evidence is not None
                    and evidence >= 1.0 - 1e-6
                    and named is not None
                    and found.share >= NAME_SHARE_FROM
                )
                threshold = self.settings.answer_threshold
                threshold = model.threshold if threshold is None else threshold
                answered = best >= threshold or (shown_all and confidence >= named)
                decided_by = "answer model" if best >= threshold or not answered else "names shown"
        # The figure shown follows what decided: the model's support when it did.
        rated_by = (best, threshold) if threshold is not None else (None, None)
        hits = rate(hits, confidence, self.settings.min_score, answered, *rated_by)
        if hits and answered:
            hits = self._newer(snap, hits, candidates, vectors @ plain, refs, published)
        took = (time.perf_counter() - started) * 1000
        return Answer(
            question=text,
            hits=tuple(hits),
            answered=answered,
            took_ms=took,
            confidence=confidence,
            evidence=evidence,
            support=best,
            signals=signals,
            decided_by=decided_by if hits else None,
        )

    def _rerank(
        self, reranker: Scorer, snap: Snapshot, text: str, candidates: list[Candidate], refs
    ) -> tuple[list[Candidate], dict[int, float]]:
        """The candidates after the re-ranker read the best ``rerank_depth``, and its score
        of each it read.

        Within an article, the passages read take the article's fused scores in the
        re-ranker's order: the article keeps its place and shows the passage the re-ranker
        prefers. ``rerank_weight`` > 0 also moves articles, by that much of the score."""
        top = candidates[: self.settings.rerank_depth]
        found = snap.chunks([c.row for c in top])
        top = [c for c in top if c.row in found]
        scores = reranker.score(text, [found[c.row][0].text for c in top])
        support = {c.row: float(s) for c, s in zip(top, scores, strict=True)}
        by_doc: dict[str, list[Candidate]] = {}
        for c in top:
            by_doc.setdefault(refs[c.row][0], []).append(c)
        weight = self.settings.rerank_weight
        moved: dict[int, Candidate] = {}
        for group in by_doc.values():
            slots = sorted((c.score for c in group), reverse=True)
            preferred = sorted(group, key=lambda c: -support[c.row])  # stable: ties keep the fused order
            for c, score in zip(preferred, slots, strict=True):
                moved[c.row] = dataclasses.replace(c, score=score + weight * support[c.row])
        out = [moved.get(c.row, c) for c in candidates]
        out.sort(key=lambda c: (-c.score, refs[c.row][:2]))
        return out, support

    def _answered(self, confidence: float, evidence: float | None) -> bool:
        """Whether what is shown answers: close enough in meaning (``min_score``) and, when
        the question names something specific, enough of it in a passage shown
        (``answer_terms``); all of it there lowers the similarity needed to
        ``named_min_score`` (docs/quality.md)."""
        search = self.settings
        if evidence is None:  # nothing specific asked
            return confidence >= search.min_score
        if search.named_min_score is not None and evidence >= 1.0 - 1e-6 and confidence >= search.named_min_score:
            return True
        return confidence >= search.min_score and evidence >= search.answer_terms

    def _published(self, snap: Snapshot, doc_ids: set[str]) -> dict[str, datetime | None]:
        """Publication dates of these articles, remembered for the snapshot's generation."""
        cache = self._dates
        if cache is None or cache[0] != snap.generation:
            cache = self._dates = (snap.generation, {})
        known = cache[1]
        missing = [d for d in doc_ids if d not in known]
        if missing:
            found = {doc.id: doc.published for doc in snap.documents(missing)}
            for doc_id in missing:
                known[doc_id] = _utc(found.get(doc_id))
        return known

    def _newer(self, snap: Snapshot, hits, candidates, similarities, refs, published) -> list[Hit]:
        """Each answering hit (the first, and those that read "strong") with the newest
        article published after it whose passage, among the candidates already scored,
        also answers (cosine at or above ``search.min_score``). Filler below the answers
        carries none: "newer coverage" under a result that does not answer would point
        from an unrelated story to the answer."""
        threshold = self.settings.min_score
        best: dict[str, tuple[datetime, float]] = {}  # doc -> (published, best similarity)
        for c, sim in zip(candidates, similarities, strict=True):
            doc_id = refs[c.row][0]
            when = published.get(doc_id)
            if when is None or float(sim) < threshold:
                continue
            if doc_id not in best or sim > best[doc_id][1]:
                best[doc_id] = (when, float(sim))
        if not best:
            return hits
        picks: dict[int, str] = {}
        for n, hit in enumerate(hits):
            mine = _utc(hit.document.published)
            if mine is None or (n > 0 and hit.label != STRONG):  # filler below the line: none
                continue
            skip = {hit.document.id, *(d.id for d in hit.duplicates)}
            later = [(when, sim, d) for d, (when, sim) in best.items() if when > mine and d not in skip]
            if later:
                picks[n] = max(later)[2]
        if not picks:
            return hits
        docs = {doc.id: doc for doc in snap.documents(set(picks.values()))}
        rank_of = {h.document.id: h.rank for h in hits}
        return [
            dataclasses.replace(h, newer=docs.get(picks[n]), newer_rank=rank_of.get(picks[n])) if n in picks else h
            for n, h in enumerate(hits)
        ]

    def _hits(
        self,
        q_tokens,
        qvec,
        plain,
        snap: Snapshot,
        refs,
        candidates,
        chosen,
        offset: int,
        shown_tokens=None,
        reranked: dict[int, float] | None = None,
        shown_rows: list[int] | None = None,
        question: str = "",
        idf: dict[str, float] | None = None,
    ) -> list[Hit]:
        """Hits for the page; each shows the passage holding its article's best sentence.

        Articles are ranked by passage scores, but the passage shown (and the sentence in
        bold) is decided at sentence level: among the article's best passages, the one
        whose best sentence is closest to the question. Sentence vectors are stored in
        the index, so this costs no model run; term overlap breaks near-ties. A passage the
        re-ranker read (``reranked``) is its article's best by the re-ranker: shown as is.
        """
        import numpy as np

        page = chosen[offset:]
        if not page:
            return []
        idf = snap.lexical.idf(q_tokens) if idf is None else idf
        by_doc: dict[str, list[Candidate]] = {}
        for c in candidates:
            by_doc.setdefault(refs[c.row][0], []).append(c)
        plans: list[list[Candidate]] = []
        for n, entry in enumerate(page):
            alternatives = [entry.candidate]
            compete = not reranked or entry.candidate.row not in reranked
            if (
                compete
                and n < COMPETE_RESULTS
                and self.settings.per_document == 1
                and self.settings.sentence_passages > 1
            ):
                others = [c for c in by_doc[entry.doc_id] if c.row != entry.candidate.row]
                alternatives += others[: self.settings.sentence_passages - 1]
                if LEAD_COMPETES:
                    # News puts the story's claim first (the inverted pyramid): the lead
                    # competes too, and is shown only when its sentence is the closest.
                    lead = next((c for c in others if refs[c.row][1] == 0), None)
                    if lead is not None and lead not in alternatives:
                        alternatives.append(lead)
            plans.append(alternatives)
        flat = [alt for plan in plans for alt in plan]
        # Documents are read for what the page shows only (and its folded duplicates).
        found = snap.chunks([a.row for a in flat] + [r for entry in page for r in entry.duplicate_rows])
        spans = snap.sentences_in(
            [(a.row, found[a.row][0].doc_id, found[a.row][0].start, found[a.row][0].end) for a in flat]
        )
        sentence_rows = [row for group in spans for row, _, _, _ in group]
        with_vectors = bool(sentence_rows) and self.settings.sentence_passages > 0
        if with_vectors:
            sentence_vectors = snap.sentence_vectors(sentence_rows)
            dense = sentence_vectors @ qvec  # picks the sentence shown
            shown_sim = dense if plain is qvec else sentence_vectors @ plain  # what is reported
        else:
            dense = shown_sim = np.zeros(len(sentence_rows), dtype=np.float32)
        # Word overlap breaks near-ties in the first results; deeper ones go by the vectors
        # alone (without sentence vectors, overlap is all there is, for every result).
        top_alternatives = sum(len(plan) for plan in plans[:COMPETE_RESULTS])
        covered = sum(len(g) for g in spans[:top_alternatives]) if with_vectors else len(sentence_rows)
        tokens_top = [t.split() for t in itertools.islice((t for g in spans for *_, t in g), covered)]
        coverage = np.zeros(len(sentence_rows), dtype=np.float32)
        coverage[:covered] = sentence_coverage(tokens_top, q_tokens, idf)
        scores = dense + SENTENCE_COVERAGE * coverage
        kind = asked_kind(question) if KIND_BONUS else None
        if kind is not None:
            # A sentence holding the kind of thing asked for (a number for "how many", a
            # name for "who") that the question does not already say.
            def sentences():
                for alt, group in zip(flat, spans, strict=True):
                    chunk = found[alt.row][0]
                    for _, a, b, _ in group:
                        yield chunk.text[a - chunk.start : b - chunk.start]

            for i, sentence in enumerate(itertools.islice(sentences(), covered)):  # those with coverage
                if holds(sentence, kind, question):
                    scores[i] += KIND_BONUS
        hits = []
        shown: list[int] = []
        cursor = 0
        flat_iter = iter(zip(flat, spans, strict=True))
        for rank, (entry, plan) in enumerate(zip(page, plans, strict=True), start=offset + 1):
            best = None  # (score, candidate, span in chunk coordinates, closest sentence)
            for _ in plan:
                alt, group = next(flat_iter)
                chunk = found[alt.row][0]
                if not group:  # no stored sentences (should not happen): the whole passage
                    candidate_best = (float("-inf"), alt, (0, len(chunk.text)), 0.0, group)
                else:
                    local = scores[cursor : cursor + len(group)]
                    i = int(np.argmax(local))
                    _, a, b, _ = group[i]
                    closest = float(shown_sim[cursor : cursor + len(group)].max())
                    candidate_best = (float(local[i]), alt, (a - chunk.start, b - chunk.start), closest, group)
                cursor += len(group)
                if best is None or candidate_best[0] > best[0] + 1e-6:
                    best = candidate_best
            _, alt, span, closest, group = best
            shown.append(alt.row)
            if shown_rows is not None:
                shown_rows.append(alt.row)
            if shown_tokens is not None:
                shown_tokens.append({tok for *_, t in group for tok in t.split()})
            chunk, doc = found[alt.row]
            duplicates = tuple(dict.fromkeys(found[r][1] for r in entry.duplicate_rows if found[r][1].id != doc.id))
            hits.append(
                Hit(
                    chunk=chunk,
                    document=doc,
                    score=entry.candidate.score,
                    rank=rank,
                    similarity=alt.dense,
                    highlight_start=span[0],
                    highlight_end=span[1],
                    more_in_document=entry.more_in_document,
                    duplicates=duplicates,
                    sentence_similarity=closest,
                )
            )
        if plain is not qvec and hits:
            # Similarities shown are the model's own cosine (see query_vectors).
            passage_sim = snap.vectors(shown) @ plain
            hits = [dataclasses.replace(h, similarity=float(x)) for h, x in zip(hits, passage_sim, strict=True)]
        return hits

    def documents(self) -> list[Document]:
        return self.snapshot().documents()

    def collection(self) -> tuple[list[SourceInfo], list[tuple[Document, str]]]:
        """The registered sources (with article counts and what their last sync found) and
        every article with the source it came from."""
        from retrieval.ingest.sources import read_state

        snap = self.snapshot()
        origins = {doc_id: origin for doc_id, (_, origin, _) in snap.document_index().items()}
        counts: dict[str, int] = {}
        for origin in origins.values():
            counts[origin] = counts.get(origin, 0) + 1
        state = read_state(self.store.path)
        sources = []
        for entry in snap.sources:
            key = entry["key"]
            seen = state.get(key)
            sources.append(
                SourceInfo(
                    key,
                    entry.get("kind", "folder"),
                    entry.get("added", ""),
                    counts.get(key, 0),
                    seen.last_sync if seen else None,
                    seen.problem if seen else None,
                )
            )
        return sources, [(doc, origins.get(doc.id, "")) for doc in snap.documents()]

    def outlets(self) -> list[str]:
        return list(self.stats().outlets)

    def stats(self) -> IndexStats:
        snap = self.snapshot()
        docs = snap.documents()
        outlets: dict[str, int] = {}
        for doc in docs:
            outlets[doc.outlet or UNKNOWN_OUTLET] = outlets.get(doc.outlet or UNKNOWN_OUTLET, 0) + 1
        dated = [d.published for d in docs if d.published]
        return IndexStats(
            documents=len(docs),
            chunks=snap.chunk_count,
            outlets=dict(sorted(outlets.items(), key=lambda kv: (-kv[1], kv[0]))),
            newest=max(dated) if dated else None,
            model_id=snap.model_id,
            generation=snap.generation,
            created=snap.manifest.get("created"),
        )


def _within_span(when: datetime, since: datetime | None, until: datetime | None) -> bool:
    when = _utc(when)
    return (since is None or when >= since) and (until is None or when < until)
