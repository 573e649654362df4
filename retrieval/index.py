"""The persisted index: FAISS vectors + SQLite metadata + a manifest, one generation per write.

Layout of an index folder::

    CURRENT           name of the live generation (replaced atomically)
    .lock             held by the one process allowed to write
    gen-000007/       manifest.json, meta.sqlite, vectors.faiss, embeddings.npy

A write builds a new generation in a temporary folder, renames it into place and only
then points ``CURRENT`` at it, so a crash at any moment leaves the previous generation
live and whole. Generations never change once written: readers open them immutable and
notice a new one by re-reading ``CURRENT``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import vectors as vector_index
from .errors import IndexBusyError, IndexMismatchError, IndexMissingError, IndexWriteError
from .lexical import DEFAULT_PARAMS, LEXICAL_DIR, LexicalIndex, tokenize
from .types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

FORMAT_VERSION = 4  # 2: BM25 index in each generation; 3: sentence vectors; 4: sentence tokens
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
META = "meta.sqlite"
VECTORS = "vectors.faiss"
EMBEDDINGS = "embeddings.npy"
SENTENCE_VECTORS = "sentences.npy"
KEEP_GENERATIONS = 2

_SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, url TEXT, outlet TEXT,
    published TEXT, source TEXT NOT NULL, parent_id TEXT, topics TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    embed_hash TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id, ordinal);
CREATE TABLE sentences (
    row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(id),
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, hash TEXT NOT NULL,
    tokens TEXT NOT NULL  -- BM25 tokens, space-separated: word overlap without re-tokenising
);
CREATE INDEX sentences_doc ON sentences(doc_id, start);
"""


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A chunk as stored: its place in its document and the hash of the text embedded."""

    doc_id: str
    ordinal: int
    start: int
    end: int
    embed_hash: str


@dataclass(frozen=True, slots=True)
class SentenceRecord:
    """A sentence of a document, by offsets, with the hash of its text (for vector reuse)."""

    doc_id: str
    start: int
    end: int
    hash: str


def sentence_token_lists(
    documents: Sequence[Document], sentences: Sequence[SentenceRecord], params: dict[str, Any]
) -> list[list[str]]:
    if not sentences:
        return []
    by_id = {d.id: d for d in documents}
    return tokenize([by_id[x.doc_id].text[x.start : x.end] for x in sentences], params)


def _doc_row(doc: Document) -> tuple[Any, ...]:
    return (
        doc.id,
        doc.title,
        doc.text,
        doc.url,
        doc.outlet,
        doc.published.isoformat() if doc.published else None,
        doc.source,
        doc.parent_id,
        json.dumps(list(doc.topics)),
        doc.content_hash,
    )


def _row_doc(row: sqlite3.Row | tuple[Any, ...]) -> Document:
    return Document(
        id=row[0],
        title=row[1],
        text=row[2],
        url=row[3],
        outlet=row[4],
        published=datetime.fromisoformat(row[5]) if row[5] else None,
        source=row[6],
        parent_id=row[7],
        topics=tuple(json.loads(row[8])),
    )


_DOC_COLUMNS = "id, title, text, url, outlet, published, source, parent_id, topics"


class Snapshot:
    """One immutable generation of the index, safe to search from many threads."""

    def __init__(self, path: Path, check_version: bool = True) -> None:
        self.path = path
        try:
            self.manifest: dict[str, Any] = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexMissingError(f"The index at {path.parent} is damaged (manifest unreadable: {exc}).") from None
        if check_version and self.manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"The index at {path.parent} has format version {self.manifest.get('format_version')}, "
                f"this version of sourced reads {FORMAT_VERSION}. Run `sourced index` to update it."
            )
        self._local = threading.local()
        self._faiss = None
        self._lexical: LexicalIndex | None = None
        self._embeddings: np.ndarray | None = None
        self._sentence_vectors: np.ndarray | None = None
        self._faiss_lock = threading.Lock()

    @property
    def generation(self) -> str:
        return self.path.name

    @property
    def model_id(self) -> str:
        return self.manifest["model_id"]

    @property
    def dimension(self) -> int:
        return int(self.manifest["dimension"])

    @property
    def chunk_count(self) -> int:
        return int(self.manifest["chunks"])

    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = (self.path / META).resolve().as_uri() + "?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    @property
    def faiss_index(self):
        if self._faiss is None:
            with self._faiss_lock:
                if self._faiss is None:
                    import faiss

                    index = faiss.read_index(str(self.path / VECTORS))
                    vector_index.prepare_for_queries(index, self.manifest.get("index_params", {}))
                    vector_index.single_thread_queries()
                    self._faiss = index
        return self._faiss

    def search(self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``n`` nearest chunk rows to ``vector`` by inner product, best first.

        ``allowed``: search only these rows (a filter), exactly, inside FAISS.
        """
        import numpy as np

        if self.chunk_count == 0 or n <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        index = self.faiss_index
        params = vector_index.search_params(index, self.manifest.get("index_params", {}), allowed)
        limit = min(n, len(allowed) if allowed is not None else self.chunk_count)
        scores, ids = index.search(query, limit, params=params) if params else index.search(query, limit)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def chunks(self, rows: Sequence[int]) -> dict[int, tuple[Chunk, Document]]:
        """Chunk and document for each row (rows not in the index are left out)."""
        if not rows:
            return {}
        db = self.db()
        marks = ",".join("?" * len(rows))
        chunk_rows = db.execute(
            f'SELECT row, doc_id, ordinal, start, "end" FROM chunks WHERE row IN ({marks})', list(rows)
        ).fetchall()
        doc_ids = sorted({r[1] for r in chunk_rows})
        docs = {d.id: d for d in self.documents(doc_ids)}
        out = {}
        for row, doc_id, ordinal, start, end in chunk_rows:
            doc = docs[doc_id]
            out[row] = (Chunk(doc_id, ordinal, doc.text[start:end], start, end), doc)
        return out

    def documents(self, ids: Iterable[str] | None = None) -> list[Document]:
        db = self.db()
        if ids is None:
            rows = db.execute(f"SELECT {_DOC_COLUMNS} FROM documents ORDER BY published DESC, title").fetchall()
        else:
            ids = list(ids)
            marks = ",".join("?" * len(ids))
            rows = db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id IN ({marks})", ids).fetchall()
        return [_row_doc(r) for r in rows]

    def content_hashes(self) -> dict[str, str]:
        return dict(self.db().execute("SELECT id, content_hash FROM documents").fetchall())

    def chunk_records(self) -> dict[str, list[tuple[int, ChunkRecord]]]:
        """(row, record) of every chunk, grouped by document, in order."""
        grouped: dict[str, list[tuple[int, ChunkRecord]]] = {}
        for row, doc_id, ordinal, start, end, embed_hash in self.db().execute(
            'SELECT row, doc_id, ordinal, start, "end", embed_hash FROM chunks ORDER BY doc_id, ordinal'
        ):
            grouped.setdefault(doc_id, []).append((row, ChunkRecord(doc_id, ordinal, start, end, embed_hash)))
        return grouped

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            with self._faiss_lock:
                if self._lexical is None:
                    self._lexical = LexicalIndex.load(self.path / LEXICAL_DIR)
        return self._lexical

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of some rows (exact, whatever the FAISS index type)."""
        import numpy as np

        if self._embeddings is None:
            self._embeddings = self.embeddings()
        return np.asarray(self._embeddings[np.asarray(rows, dtype=np.int64)], dtype=np.float32)

    def rows_where(self, since: str | None, until: str | None, outlet: str | None, source: str | None) -> np.ndarray:
        """Row numbers of chunks whose document passes the filters (dates as ISO text)."""
        import numpy as np

        clauses, args = [], []
        if since:
            clauses.append("d.published >= ?")
            args.append(since)
        if until:
            clauses.append("d.published < ?")
            args.append(until)
        if outlet:
            clauses.append("lower(coalesce(d.outlet, '')) LIKE ? ESCAPE '\\'")
            args.append(f"%{_like(outlet.lower())}%")
        if source:
            clauses.append("(lower(d.source) LIKE ? ESCAPE '\\' OR lower(coalesce(d.url, '')) LIKE ? ESCAPE '\\')")
            args += [f"%{_like(source.lower())}%"] * 2
        where = " AND ".join(clauses) or "1"
        rows = (
            self.db()
            .execute(f"SELECT c.row FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where}", args)
            .fetchall()
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def sentences_in(self, spans: Sequence[tuple[str, int, int]]) -> list[list[tuple[int, int, int, str]]]:
        """For each (doc_id, start, end) span: (row, start, end, tokens) of the sentences inside."""
        db = self.db()
        return [
            db.execute(
                'SELECT row, start, "end", tokens FROM sentences WHERE doc_id = ? AND start >= ? AND "end" <= ? '
                "ORDER BY start",
                (doc_id, start, end),
            ).fetchall()
            for doc_id, start, end in spans
        ]

    def sentence_matrix(self) -> np.ndarray:
        """All sentence vectors (float16), row-aligned with the sentences table, memory-mapped."""
        import numpy as np

        if self._sentence_vectors is None:
            self._sentence_vectors = np.load(self.path / SENTENCE_VECTORS, mmap_mode="r")
        return self._sentence_vectors

    @property
    def current_format(self) -> bool:
        return self.manifest.get("format_version") == FORMAT_VERSION

    def sentence_hashes(self) -> dict[str, int]:
        try:
            return dict(self.db().execute("SELECT hash, row FROM sentences").fetchall())
        except sqlite3.OperationalError:  # written by a version without sentence vectors
            return {}

    def embeddings(self) -> np.ndarray:
        """All chunk vectors, row-aligned, memory-mapped (not read until used)."""
        import numpy as np

        return np.load(self.path / EMBEDDINGS, mmap_mode="r")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


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

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the writer lock, or raise :class:`IndexBusyError` at once if another holds it."""
        import fcntl

        try:
            self.path.mkdir(parents=True, exist_ok=True)
            handle = open(self.path / ".lock", "a+")  # noqa: SIM115 - held for the whole block
        except OSError as exc:
            raise IndexWriteError(f"Cannot create the index folder {self.path}: {exc.strerror or exc}.") from None
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise IndexBusyError(
                    f"The index at {self.path} is being written by {holder}; wait for it to finish and try again."
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()}")
            handle.flush()
            yield
        finally:
            handle.close()

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
                _fsync(f)
            manifest["sentences"] = len(sentences)
            matrix = np.ascontiguousarray(embeddings, dtype=np.float32).reshape(len(chunks), manifest["dimension"])
            with open(tmp / EMBEDDINGS, "wb") as f:
                np.save(f, matrix)
                _fsync(f)
            self._write_faiss(tmp / VECTORS, matrix, manifest)
            if texts is None:
                by_id = {d.id: d for d in documents}
                texts = [by_id[c.doc_id].text[c.start : c.end] for c in chunks]
            lexical = LexicalIndex.build(texts, manifest.get("lexical"))
            lexical.save(tmp / LEXICAL_DIR)
            manifest["lexical"] = lexical.params
            with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
                json.dump(manifest, f, indent=2, sort_keys=True)
                _fsync(f)
            _fsync_tree(tmp)
            name = self._next_generation()
            os.rename(tmp, self.path / name)
            _fsync_dir(self.path)
            current_tmp = self.path / f".{CURRENT}.tmp"
            with open(current_tmp, "w", encoding="utf-8") as f:
                f.write(name + "\n")
                _fsync(f)
            os.replace(current_tmp, self.path / CURRENT)
            _fsync_dir(self.path)
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
            conn.executescript(_SCHEMA)
            conn.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?)", (_doc_row(d) for d in documents))
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


@dataclass(frozen=True)
class HealthReport:
    """What `sourced doctor` found: facts about the live generation, and any problems."""

    facts: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_index(store: IndexStore) -> HealthReport:
    """Verify that FAISS ids, metadata rows, BM25 rows, vectors and manifest all agree."""
    import numpy as np

    facts: list[str] = []
    problems: list[str] = []
    name = store.current_name()
    if name is None:
        return HealthReport((), (f"No index at {store.path} (no {CURRENT} file).",))
    snap = store.open()
    m = snap.manifest
    facts.append(
        f"live generation {name}, built {m.get('created')} with {m.get('model_id')} ({m.get('dimension')} dims)"
    )
    facts.append(f"{m.get('documents')} documents, {m.get('chunks')} passages, FAISS {m.get('index_type')}")
    for missing in [
        f for f in (MANIFEST, META, VECTORS, EMBEDDINGS, SENTENCE_VECTORS, LEXICAL_DIR) if not (snap.path / f).exists()
    ]:
        problems.append(f"{missing} is missing from {snap.path}")
    if problems:
        return HealthReport(tuple(facts), tuple(problems))
    db = snap.db()
    n_docs = db.execute("SELECT count(*) FROM documents").fetchone()[0]
    n_chunks, lo, hi = db.execute("SELECT count(*), min(row), max(row) FROM chunks").fetchone()
    if n_docs != m.get("documents"):
        problems.append(f"manifest says {m.get('documents')} documents, metadata has {n_docs}")
    if n_chunks != m.get("chunks"):
        problems.append(f"manifest says {m.get('chunks')} passages, metadata has {n_chunks}")
    if n_chunks and (lo != 0 or hi != n_chunks - 1):
        problems.append(f"passage rows are not 0..{n_chunks - 1} (found {lo}..{hi})")
    orphans = db.execute(
        "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.doc_id WHERE d.id IS NULL"
    ).fetchone()[0]
    if orphans:
        problems.append(f"{orphans} passages belong to no document")
    bad = db.execute(
        "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.doc_id "
        'WHERE c.start < 0 OR c."end" > length(d.text) OR c.start >= c."end"'
    ).fetchone()[0]
    if bad:
        problems.append(f"{bad} passages have offsets outside their document")
    index = snap.faiss_index
    if index.ntotal != n_chunks:
        problems.append(f"FAISS holds {index.ntotal} vectors for {n_chunks} passages")
    if index.d != snap.dimension:
        problems.append(f"FAISS dimension {index.d} differs from the manifest's {snap.dimension}")
    emb = snap.embeddings()
    if emb.shape != (n_chunks, snap.dimension):
        problems.append(f"stored vectors have shape {emb.shape}, expected ({n_chunks}, {snap.dimension})")
    elif n_chunks:
        sample = np.unique(np.linspace(0, n_chunks - 1, num=min(n_chunks, 64)).astype(np.int64))
        norms = np.linalg.norm(np.asarray(emb[sample]), axis=1)
        if not np.allclose(norms, 1.0, atol=1e-3):
            problems.append("stored vectors are not unit length")
        found = [row for row, _ in snap.search(np.asarray(emb[sample[0]]), 1)]
        if found and abs(float(np.asarray(emb[found[0]]) @ np.asarray(emb[sample[0]])) - 1.0) > 1e-3:
            problems.append("FAISS does not find a stored vector as its own nearest neighbour")
    n_sentences = db.execute("SELECT count(*) FROM sentences").fetchone()[0]
    if snap.sentence_matrix().shape != (n_sentences, snap.dimension):
        problems.append(f"{n_sentences} sentences but sentence vectors of shape {snap.sentence_matrix().shape}")
    if snap.lexical.rows != n_chunks:
        problems.append(f"BM25 index covers {snap.lexical.rows} rows for {n_chunks} passages")
    stale = [p.name for p in store.path.glob(".tmp-*")]
    if stale:
        facts.append(f"{len(stale)} unfinished write(s) from an interrupted run will be removed by the next index run")
    return HealthReport(tuple(facts), tuple(problems))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fsync(f) -> None:
    f.flush()
    os.fsync(f.fileno())


def _fsync_tree(folder: Path) -> None:
    # Files written by libraries (FAISS, bm25s) are not fsynced by them; do it before
    # the rename that makes them live, or a power cut could expose empty files.
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        elif path.is_dir():
            _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
