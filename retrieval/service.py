"""The one query service every adapter (CLI, Discord bot, benchmarks) goes through.

:class:`QueryService` is synchronous and safe to call from many threads at once; the bot
calls it through ``asyncio.to_thread``. It notices when the index on disk has been
replaced (by ``sourced index`` or ``/reindex``) and switches to the new generation
between questions, so a long-running process never needs a restart.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .config import SearchSettings
from .embedding import Embedder
from .errors import IndexMismatchError, QuestionError
from .index import IndexStore, Snapshot
from .types import Answer, Document, Hit

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


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


def clean_question(question: str, max_chars: int) -> str:
    """The question as searched, or :class:`QuestionError` saying what is wrong with it."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    text = " ".join(_CONTROL.sub(" ", question).split())
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
        store: IndexStore,
        embedder_factory: Callable[[], Embedder],
        settings: SearchSettings | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or SearchSettings()
        self._embedder_factory = embedder_factory
        self._embedder: Embedder | None = None
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    self._embedder = self._embedder_factory()
        return self._embedder

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
                f"The index at {self.store.path} was built with the model {snap.model_id} "
                f"({snap.dimension} dimensions) but the configured model is {embedder.model_id}. "
                "Run `sourced index` to rebuild it with the configured model."
            )

    def ask(self, question: str, k: int | None = None) -> Answer:
        """The best passages for ``question``, at most ``search.per_document`` per article."""
        started = time.perf_counter()
        text = clean_question(question, self.settings.max_question_chars)
        k = k or self.settings.k
        if not 1 <= k <= 100:
            raise QuestionError("The number of results must be between 1 and 100.")
        snap = self.snapshot()
        vector = self.embedder.embed_query(text)
        candidates = snap.search(vector, max(self.settings.candidates, k * self.settings.per_document * 4))
        found = snap.chunks([row for row, _ in candidates])
        hits: list[Hit] = []
        per_doc: dict[str, int] = {}
        for row, score in candidates:
            if row not in found:
                continue
            chunk, doc = found[row]
            if per_doc.get(doc.id, 0) >= self.settings.per_document:
                continue
            per_doc[doc.id] = per_doc.get(doc.id, 0) + 1
            hits.append(Hit(chunk=chunk, document=doc, score=score, rank=len(hits) + 1))
            if len(hits) == k:
                break
        answered = bool(hits) and hits[0].score >= self.settings.min_score
        took = (time.perf_counter() - started) * 1000
        return Answer(question=text, hits=tuple(hits), answered=answered, took_ms=took)

    def documents(self) -> list[Document]:
        return self.snapshot().documents()

    def stats(self) -> IndexStats:
        snap = self.snapshot()
        docs = snap.documents()
        outlets: dict[str, int] = {}
        for doc in docs:
            outlets[doc.outlet or "(unknown outlet)"] = outlets.get(doc.outlet or "(unknown outlet)", 0) + 1
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
