"""The writer side: find the live generation, write new ones atomically, one writer at a time."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval import vectors as vector_index
from retrieval.errors import IndexMissingError, IndexWriteError
from retrieval.lexical import DEFAULT_PARAMS, LEXICAL_DIR, LexicalIndex
from retrieval.store.durable import fsync_dir, fsync_file, fsync_tree
from retrieval.store.lock import writer_lock
from retrieval.types import Document

from .schema import (
    CURRENT,
    EMBEDDINGS,
    FORMAT_VERSION,
    KEEP_GENERATIONS,
    MANIFEST,
    META,
    SCHEMA,
    SENTENCE_VECTORS,
    VECTORS,
    ChunkRecord,
    SentenceRecord,
    doc_row,
    sentence_token_lists,
)
from .snapshot import Snapshot

if TYPE_CHECKING:
    import numpy as np


class IndexStore:
    """An index folder: find the live generation, write new ones atomically, lock writers."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def current_name(self) -> str | None:
        try:
            name = (self.path / CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexMissingError(f"Cannot read the index at {self.path}: {exc.strerror or exc}.") from None
        return name or None

    def exists(self) -> bool:
        name = self.current_name()
        return bool(name) and (self.path / name / MANIFEST).is_file()

    def open(self, check_version: bool = True) -> Snapshot:
        """The live generation, or :class:`IndexMissingError` with what to run.

        ``check_version=False`` opens an older format too, for re-using its vectors.
        """
        name = self.current_name()
        if name is None or not (self.path / name / MANIFEST).is_file():
            raise IndexMissingError(f"No index at {self.path} yet. Run `sourced index` to build one.")
        return Snapshot(self.path / name, check_version)

    def writer_lock(self, wait_seconds: float = 0.0) -> contextlib.AbstractContextManager[None]:
        """Hold the writer lock, or raise :class:`IndexBusyError` if another holds it."""
        return writer_lock(self.path, wait_seconds)

    def write(
        self,
        documents: Sequence[Document],
        chunks: Sequence[ChunkRecord],
        embeddings: np.ndarray,
        manifest: dict[str, Any],
        texts: Sequence[str] | None = None,
        sentences: Sequence[SentenceRecord] = (),
        sentence_vectors: np.ndarray | None = None,
    ) -> Snapshot:
        """Write a new generation and make it live. Call with :meth:`writer_lock` held.

        ``texts``: the text of each chunk as embedded, for the BM25 index (default: the
        chunk's own text).
        """
        import numpy as np

        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk is required")
        self._remove_stale_temp()
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.path))
        try:
            manifest = {
                **manifest,
                "format_version": FORMAT_VERSION,
                "documents": len(documents),
                "chunks": len(chunks),
                "dimension": int(embeddings.shape[1]) if embeddings.ndim == 2 else manifest["dimension"],
            }
            lexical_params = {**DEFAULT_PARAMS, **(manifest.get("lexical") or {})}
            self._write_meta(tmp / META, documents, chunks, sentences, lexical_params)
            if sentence_vectors is None:
                sentence_vectors = np.zeros((0, manifest["dimension"]), dtype=np.float16)
            if len(sentence_vectors) != len(sentences):
                raise ValueError("one vector per sentence is required")
            with open(tmp / SENTENCE_VECTORS, "wb") as f:
                np.save(f, np.ascontiguousarray(sentence_vectors, dtype=np.float16))
                fsync_file(f)
            manifest["sentences"] = len(sentences)
            matrix = np.ascontiguousarray(embeddings, dtype=np.float32).reshape(len(chunks), manifest["dimension"])
            with open(tmp / EMBEDDINGS, "wb") as f:
                np.save(f, matrix)
                fsync_file(f)
            self._write_faiss(tmp / VECTORS, matrix, manifest)
            if texts is None:
                by_id = {d.id: d for d in documents}
                texts = [by_id[c.doc_id].text[c.start : c.end] for c in chunks]
            lexical = LexicalIndex.build(texts, manifest.get("lexical"))
            lexical.save(tmp / LEXICAL_DIR)
            manifest["lexical"] = lexical.params
            with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
                json.dump(manifest, f, indent=2, sort_keys=True)
                fsync_file(f)
            fsync_tree(tmp)
            name = self._next_generation()
            os.rename(tmp, self.path / name)
            fsync_dir(self.path)
            current_tmp = self.path / f".{CURRENT}.tmp"
            with open(current_tmp, "w", encoding="utf-8") as f:
                f.write(name + "\n")
                fsync_file(f)
            os.replace(current_tmp, self.path / CURRENT)
            fsync_dir(self.path)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise IndexWriteError(
                f"Could not write the index at {self.path} ({exc.strerror or exc}); the previous index is unchanged."
            ) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._prune(keep=name)
        return Snapshot(self.path / name)

    @staticmethod
    def _write_meta(
        path: Path,
        documents: Sequence[Document],
        chunks: Sequence[ChunkRecord],
        sentences: Sequence[SentenceRecord],
        lexical_params: dict[str, Any],
    ) -> None:
        conn = sqlite3.connect(path)
        try:
            conn.executescript(SCHEMA)
            conn.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?)", (doc_row(d) for d in documents))
            conn.executemany(
                "INSERT INTO chunks VALUES (?,?,?,?,?,?)",
                ((row, c.doc_id, c.ordinal, c.start, c.end, c.embed_hash) for row, c in enumerate(chunks)),
            )
            sentence_tokens = sentence_token_lists(documents, sentences, lexical_params)
            conn.executemany(
                "INSERT INTO sentences VALUES (?,?,?,?,?,?)",
                (
                    (row, x.doc_id, x.start, x.end, x.hash, " ".join(tokens))
                    for row, (x, tokens) in enumerate(zip(sentences, sentence_tokens, strict=True))
                ),
            )
            conn.commit()
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()

    @staticmethod
    def _write_faiss(path: Path, matrix: np.ndarray, manifest: dict[str, Any]) -> None:
        import faiss

        built = vector_index.build(matrix, manifest.get("index_kind", "auto"))
        manifest["index_type"] = built.kind
        manifest["index_params"] = built.params
        faiss.write_index(built.index, str(path))

    def _generations(self) -> list[str]:
        return sorted(p.name for p in self.path.glob("gen-*") if p.is_dir())

    def _next_generation(self) -> str:
        existing = self._generations()
        last = int(existing[-1].split("-")[1]) if existing else 0
        return f"gen-{last + 1:06d}"

    def _remove_stale_temp(self) -> None:
        # Left by a writer that crashed; we hold the lock, so none is in progress.
        for stale in self.path.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)

    def _prune(self, keep: str) -> None:
        # Keep the previous generation too: a reader may have just opened it.
        gens = [g for g in self._generations() if g != keep]
        for old in gens[: max(0, len(gens) - (KEEP_GENERATIONS - 1))]:
            shutil.rmtree(self.path / old, ignore_errors=True)
