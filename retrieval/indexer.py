"""Build or update an index from a collection, embedding only what is new.

Every chunk remembers the hash of the exact text that was embedded. An update re-uses
the stored vector of any chunk whose text (and model) is unchanged, so re-running on an
unchanged collection embeds nothing, and editing one article re-embeds only its changed
passages. Documents no longer in the collection are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from retrieval.readers import Collection, CollectionReader, Problem

from . import __version__
from .chunking import chunk_document, sentence_spans
from .clean import Cleaner
from .config import Config, resolve_path
from .embedding import Embedder
from .errors import IndexMismatchError, SourcedError
from .store import ChunkRecord, IndexStore, SentenceRecord, Snapshot
from .types import Chunk, Document, stable_hash

# Index formats whose passage vectors a new index may re-use (see index.FORMAT_VERSION).
REUSABLE_FORMATS = (2, 3, 4)


class IndexProgress(Protocol):
    """What an adapter shows while indexing runs."""

    def reading(self, done: int, total: int) -> None: ...

    def embedding(self, total: int) -> None: ...

    def embedded(self, n: int) -> None: ...


class NoProgress:
    def reading(self, done: int, total: int) -> None:
        pass

    def embedding(self, total: int) -> None:
        pass

    def embedded(self, n: int) -> None:
        pass


@dataclass(frozen=True)
class IndexReport:
    """What one `sourced index` run did."""

    index_dir: Path
    documents: int
    chunks: int
    added: int
    updated: int
    removed: int
    unchanged: int
    chunks_embedded: int
    files_read: int
    merged: int
    problems: tuple[Problem, ...]
    written: bool
    seconds: float
    sentences_embedded: int = 0

    @property
    def skipped(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.skipped)


def bundled_articles() -> Path:
    """The sample collection shipped with sourced."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_bundled" / "articles", here.parent / "data" / "articles"):
        if candidate.is_dir():
            return candidate
    raise SourcedError("The bundled sample articles are missing from this installation; pass a PATH to index.")


def embed_text(doc: Document, chunk: Chunk, with_title: bool) -> str:
    """The text the model sees for a chunk: the title gives a mid-article passage context."""
    if with_title and doc.title and not chunk.text.startswith(doc.title):
        return f"{doc.title}\n{chunk.text}"
    return chunk.text


class Indexer:
    """Reads a collection and writes it to an index folder, incrementally."""

    def __init__(self, config: Config, store: IndexStore, embedder: Embedder) -> None:
        self.config = config
        self.store = store
        self.embedder = embedder

    def chunk_settings(self) -> dict[str, object]:
        c = self.config.chunking
        return {"max_tokens": c.max_tokens, "overlap_sentences": c.overlap_sentences, "embed_title": c.embed_title}

    def resolve_paths(self, paths: Sequence[Path]) -> list[Path]:
        """PATHs given, else configured paths, else the folders of the live index, else the samples."""
        if paths:
            return [p.expanduser().resolve() for p in paths]
        if self.config.sources.paths:
            return [resolve_path(self.config, p).resolve() for p in self.config.sources.paths]
        if self.store.exists():
            try:
                recorded = self.store.open().manifest.get("sources") or []
            except SourcedError:
                recorded = []
            if recorded:
                return [Path(p) for p in recorded]
        return [bundled_articles()]

    def run(
        self, paths: Sequence[Path] = (), progress: IndexProgress | None = None, rebuild: bool = False
    ) -> IndexReport:
        started = time.perf_counter()
        progress = progress or NoProgress()
        roots = self.resolve_paths(paths)
        with self.store.writer_lock():
            previous = self._previous(rebuild)
            collection = self.read(roots, progress)
            return self._update(collection, previous, roots, progress, started)

    def index_documents(
        self, documents: Sequence[Document], progress: IndexProgress | None = None, label: str = "documents"
    ) -> IndexReport:
        """Index documents made in code (benchmarks, tests) instead of read from files."""
        started = time.perf_counter()
        collection = Collection(tuple(documents), (), 0, 0)
        with self.store.writer_lock():
            return self._update(collection, self._previous(False), [Path(label)], progress or NoProgress(), started)

    def _previous(self, rebuild: bool) -> Snapshot | None:
        if rebuild or not self.store.exists():
            return None
        try:
            snap = self.store.open()
        except IndexMismatchError:
            # An older format: its passage vectors are still good; the rest is rewritten.
            snap = self.store.open(check_version=False)
            if snap.manifest.get("format_version") not in REUSABLE_FORMATS:
                return None
        if snap.model_id != self.embedder.model_id or snap.dimension != self.embedder.dimension:
            return None  # vectors of another model cannot be reused
        return snap

    def read(self, roots: Sequence[Path], progress: IndexProgress | None = None) -> Collection:
        """Read the articles under ``roots`` with this config's cleaning and metadata rules."""
        progress = progress or NoProgress()
        sources_file = (
            resolve_path(self.config, self.config.sources.sources_file) if self.config.sources.sources_file else None
        )
        reader = CollectionReader(Cleaner(self.config.clean), self.config.sources, sources_file)
        return reader.read(roots, progress=lambda done, total, _path: progress.reading(done, total))

    def _update(
        self,
        collection: Collection,
        previous: Snapshot | None,
        roots: Sequence[Path],
        progress: IndexProgress,
        started: float,
    ) -> IndexReport:
        import numpy as np

        settings = self.chunk_settings()
        same_chunking = previous is not None and previous.manifest.get("chunking") == settings
        lexical = {"k1": self.config.index.bm25_k1, "b": self.config.index.bm25_b}
        same_lexical = previous is not None and all(
            previous.manifest.get("lexical", {}).get(k) == v for k, v in lexical.items()
        )
        old_hashes = previous.content_hashes() if previous else {}
        old_chunks = previous.chunk_records() if previous and same_chunking else {}
        old_vectors_by_hash: dict[str, int] = {}
        if previous is not None:
            for records in (old_chunks or previous.chunk_records()).values():
                for row, rec in records:
                    old_vectors_by_hash.setdefault(rec.embed_hash, row)

        records: list[ChunkRecord] = []
        sources: list[tuple[str, int] | str] = []  # old row to copy, or text to embed
        to_embed: list[str] = []
        texts: list[str] = []  # every chunk's embedded text, for the BM25 index
        added = updated = unchanged = 0
        for doc in collection.documents:
            old_hash = old_hashes.get(doc.id)
            if old_hash is None:
                added += 1
            elif old_hash != doc.content_hash:
                updated += 1
            else:
                unchanged += 1
            if old_hash == doc.content_hash and doc.id in old_chunks:
                for row, rec in old_chunks[doc.id]:
                    records.append(rec)
                    sources.append(("old", row))
                    chunk = Chunk(doc.id, rec.ordinal, doc.text[rec.start : rec.end], rec.start, rec.end)
                    texts.append(embed_text(doc, chunk, self.config.chunking.embed_title))
                continue
            for chunk in chunk_document(
                doc, self.config.chunking.max_tokens, self.config.chunking.overlap_sentences, self.embedder.count_tokens
            ):
                text = embed_text(doc, chunk, self.config.chunking.embed_title)
                texts.append(text)
                h = stable_hash(text)
                records.append(ChunkRecord(doc.id, chunk.ordinal, chunk.start, chunk.end, h))
                if h in old_vectors_by_hash:
                    sources.append(("old", old_vectors_by_hash[h]))
                else:
                    sources.append(text)
                    to_embed.append(text)
        # Every sentence gets a vector too: at question time they pick the passage shown and
        # the answer sentence without running the model again (that costs ~0.2 s a question
        # on two cores). Vectors are reused by text hash like the chunks'.
        old_sentences = previous.sentence_hashes() if previous is not None else {}
        sentences: list[SentenceRecord] = []
        sentence_sources: list[int | str] = []
        sentence_embed: list[str] = []
        for doc in collection.documents if self.config.index.sentence_vectors else ():
            for start, end in sentence_spans(doc.text):
                text = doc.text[start:end]
                h = stable_hash(text)
                sentences.append(SentenceRecord(doc.id, start, end, h))
                if h in old_sentences:
                    sentence_sources.append(old_sentences[h])
                else:
                    sentence_sources.append(text)
                    sentence_embed.append(text)
        removed = len(set(old_hashes) - {d.id for d in collection.documents})
        root_names = [str(r) for r in roots]  # recorded so a later run can re-sync them
        unchanged_index = (
            previous is not None
            and previous.current_format
            and previous.manifest.get("sentence_vectors") == self.config.index.sentence_vectors
            and same_chunking
            and same_lexical
            and previous.manifest.get("index_kind") == self.config.index.kind
            and added == 0
            and updated == 0
            and removed == 0
            and previous.manifest.get("sources") == root_names
        )
        if unchanged_index:
            return self._report(collection, previous.chunk_count, 0, 0, 0, unchanged, 0, False, started)

        progress.embedding(len(to_embed) + len(sentence_embed))
        # One call, so passages and sentences are batched together by length.
        all_vectors = self.embedder.embed(
            to_embed + sentence_embed, self.config.embedding.batch_size, progress=progress.embedded
        )
        new_vectors, new_sentence_vectors = all_vectors[: len(to_embed)], all_vectors[len(to_embed) :]
        sentence_vectors = np.empty((len(sentences), self.embedder.dimension), dtype=np.float16)
        if sentences:
            old_sentence_matrix = previous.sentence_matrix() if previous is not None and old_sentences else None
            fresh_sentences = iter(range(len(sentence_embed)))
            for i, src in enumerate(sentence_sources):
                if isinstance(src, str):
                    sentence_vectors[i] = new_sentence_vectors[next(fresh_sentences)]
                else:
                    sentence_vectors[i] = old_sentence_matrix[src]
        vectors = np.empty((len(records), self.embedder.dimension), dtype=np.float32)
        if records:
            old_matrix = previous.embeddings() if previous is not None else None
            fresh = iter(range(len(to_embed)))
            for i, src in enumerate(sources):
                if isinstance(src, tuple):
                    vectors[i] = old_matrix[src[1]]
                else:
                    vectors[i] = new_vectors[next(fresh)]
        manifest = {
            "model_id": self.embedder.model_id,
            "dimension": self.embedder.dimension,
            "chunking": settings,
            "index_kind": self.config.index.kind,
            "lexical": lexical,
            "sentence_vectors": self.config.index.sentence_vectors,
            "sources": root_names,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "sourced_version": __version__,
        }
        self.store.write(collection.documents, records, vectors, manifest, texts, sentences, sentence_vectors)
        report = self._report(
            collection, len(records), added, updated, removed, unchanged, len(to_embed), True, started
        )
        return replace(report, sentences_embedded=len(sentence_embed))

    def _report(
        self,
        collection: Collection,
        chunks: int,
        added: int,
        updated: int,
        removed: int,
        unchanged: int,
        embedded: int,
        written: bool,
        started: float,
    ) -> IndexReport:
        return IndexReport(
            index_dir=self.store.path,
            documents=len(collection.documents),
            chunks=chunks,
            added=added,
            updated=updated,
            removed=removed,
            unchanged=unchanged,
            chunks_embedded=embedded,
            files_read=collection.files_read,
            merged=collection.merged,
            problems=collection.problems,
            written=written,
            seconds=time.perf_counter() - started,
        )
