"""Ask the quiz questions of small topical collections (``benchmarks/devsets/desks-*.jsonl``).

A community's desk starts with tens of articles, not the dev pool's 1,020 passages, and a
small collection weighs a word it lacks otherwise: its rarest word is rarer, and it lacks
more of the words a question uses. So ``answered`` is fitted and measured on both. Each
desk is indexed on its own, through the product (chunking, sentence vectors, the folder
store), in a temporary folder; passages and sentences are embedded once for all desks.

Used by ``benchmarks/ranking_eval.py`` (kinds ``desk_<split>`` and ``deskU_<split>``) and
``benchmarks/train_news_model.py --oof-signals`` (the train desks asked of fold models).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from retrieval.ingest.indexer import Indexer
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from retrieval.types import Document

DEVSETS = Path(__file__).resolve().parent / "devsets"


class MemoEmbedder:
    """The embedder, with each text embedded once: a question for every variant, a passage
    or sentence for every desk that holds it."""

    def __init__(self, inner):
        self.inner = inner
        self._queries: dict[str, np.ndarray] = {}
        self._texts: dict[str, np.ndarray] = {}

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self._queries.get(text)
        if vector is None:
            vector = self._queries[text] = self.inner.embed_query(text)
        return vector

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress=None) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._texts]
        if new:
            for text, vector in zip(new, self.inner.embed(new, batch_size=batch_size), strict=True):
                self._texts[text] = vector
        if not texts:
            return self.inner.embed(texts, batch_size=batch_size)
        return np.stack([self._texts[t] for t in texts])


def load_desks(split: str, question_ids: set[str] | None = None) -> list[dict]:
    rows = []
    for line in (DEVSETS / f"desks-{split}.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if question_ids is None or row["query_id"] in question_ids:
                rows.append(row)
    return rows


def ask_desks(
    rows: Sequence[dict],
    documents: dict[str, Document],
    queries: dict[str, str],
    config,
    embedder,
    split: str,
    record: Callable[[str, object, bool, str], None],
) -> None:
    """Ask each row's question of its desk with its evidence (``record(f"desk_{split}",
    answer, True, question id)``) and, when the row says it can be checked, without it
    (``deskU_{split}``, False)."""
    for row in rows:
        text = queries[row["query_id"]]
        asks = [(f"desk_{split}", row["evidence"] + row["others"], True)]
        if row["unanswerable"]:
            asks.append((f"deskU_{split}", row["others"], False))
        for kind, members, should in asks:
            # One folder per desk, gone once it is asked: a split is ~1,200 desks.
            with tempfile.TemporaryDirectory(prefix="sourced-desk-") as tmp:
                store = FolderStore(Path(tmp) / "index")
                Indexer(config, store, embedder).index_documents([documents[i] for i in members], None, label="desk")
                service = QueryService(store, lambda: embedder, config.search)
                try:
                    answer = service.ask(text, k=5)
                finally:
                    service.snapshot().close()
                record(kind, answer, should, row["query_id"])
