"""One immutable segment of the index: some documents with their passages, vectors and postings.

A segment is written once into ``segments/seg-NNNNNN/`` (in a temporary folder first,
renamed into place when whole) and never changed; generations list the segments they
use, so unchanged data is shared between generations and never copied. Files::

    segment.json          counts, vector-index kind and settings
    meta.sqlite           documents, chunks and sentences, by row within the segment
    vectors.f16.npy       passage vectors, float16 (exact rescoring; the flat index at load)
    sentences.i8.npy      sentence vectors, int8 (x 127): they only pick the sentence shown
    postings.npz, vocabulary.json   BM25 postings of the passages
    vectors.faiss         only for large segments: an approximate index (IVF) built at write
    minhash.npy           each document's MinHash signature (``retrieval.store.dedup``), in
                          document-table order; segments written before it compute them
                          when first needed

``segment.json`` lists every other file with its size and SHA-256 (``files``), computed
when the segment is written; the generation's manifest entry holds the SHA-256 of
``segment.json`` itself (``checksum``). Opening a segment checks that every file is there
with its size (a few stats: cheap enough for every `ask`); ``sourced doctor`` checks the
hashes (reads everything). Segments written before checksums existed have no ``files``:
they open as before, and doctor says so.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.errors import IndexDamagedError
from retrieval.store.folder import vectors as vector_index
from retrieval.store.folder.durable import fsync_file
from retrieval.store.folder.schema import CLAIMED_ELSEWHERE, DOC_COLUMNS, SCHEMA, doc_row, like_pattern, row_doc
from retrieval.store.lexical import Postings, tokenize
from retrieval.store.records import ChunkRecord, SegmentData, SentenceRecord, quantize_sentences
from retrieval.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

SEGMENT = "segment.json"
META = "meta.sqlite"
PASSAGE_VECTORS = "vectors.f16.npy"
SENTENCE_VECTORS = "sentences.i8.npy"
FAISS_FILE = "vectors.faiss"
SIGNATURES = "minhash.npy"
# numpy parses .npy headers with ast.literal_eval, which CPython 3.11 cannot run in two
# threads at once ("AST constructor recursion depth mismatch"): loads take turns.
_LOAD_LOCK = threading.Lock()
FILES = "files"  # segment.json: {file name: {"bytes": size, "sha256": hex digest}}


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def damaged(segment: str, file: str, what: str) -> IndexDamagedError:
    """One line for the user: which segment and file, and what to run."""
    return IndexDamagedError(
        f"The index is damaged: segment {segment}, file {file} ({what}). "
        "Run `sourced doctor` for details; `sourced index --rebuild` rebuilds it from the sources."
    )


def checksums(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file in a segment folder but segment.json."""
    return {
        p.name: {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != SEGMENT
    }


def write_segment(folder: Path, data: SegmentData, lexical_params: dict[str, Any], index_kind: str) -> dict[str, Any]:
    """Write ``data`` as a segment into the (new, empty) ``folder``; returns its description."""
    import numpy as np

    if len(data.chunks) != len(data.vectors):
        raise ValueError("one vector per chunk is required")
    if data.postings is None and (data.texts is None or len(data.texts) != len(data.chunks)):
        raise ValueError("one text per chunk (or the postings) is required")
    if len(data.sentences) != len(data.sentence_vectors):
        raise ValueError("one vector per sentence is required")
    folder.mkdir(parents=True)
    conn = sqlite3.connect(folder / META)
    try:
        conn.executescript(SCHEMA)
        conn.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (doc_row(d, origin) for d, origin in zip(data.documents, data.origins, strict=True)),
        )
        conn.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?)",
            ((row, c.doc_id, c.ordinal, c.start, c.end, c.embed_hash) for row, c in enumerate(data.chunks)),
        )
        sentence_tokens = data.sentence_tokens
        if sentence_tokens is None:
            by_id = {d.id: d for d in data.documents}
            texts = [by_id[x.doc_id].text[x.start : x.end] for x in data.sentences]
            sentence_tokens = [" ".join(t) for t in tokenize(texts, lexical_params)]
        conn.executemany(
            "INSERT INTO sentences VALUES (?,?,?,?,?,?)",
            (
                (row, x.doc_id, x.start, x.end, x.hash, tokens)
                for row, (x, tokens) in enumerate(zip(data.sentences, sentence_tokens, strict=True))
            ),
        )
        conn.commit()
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    from retrieval.store.dedup import signatures

    minhash = data.signatures if data.signatures is not None else signatures([d.text for d in data.documents])
    with open(folder / SIGNATURES, "wb") as f:
        np.save(f, np.ascontiguousarray(minhash, dtype=np.uint32))
        fsync_file(f)
    dimension = int(data.vectors.shape[1]) if data.vectors.ndim == 2 else 0
    matrix = np.ascontiguousarray(data.vectors, dtype=np.float32).reshape(len(data.chunks), dimension)
    with open(folder / PASSAGE_VECTORS, "wb") as f:
        np.save(f, matrix.astype(np.float16))
        fsync_file(f)
    with open(folder / SENTENCE_VECTORS, "wb") as f:
        np.save(f, quantize_sentences(data.sentence_vectors).reshape(len(data.sentences), dimension))
        fsync_file(f)
    postings = data.postings or Postings.build(tokenize(list(data.texts or ()), lexical_params))
    postings.save(folder)
    info: dict[str, Any] = {
        "rows": len(data.chunks),
        "sentences": len(data.sentences),
        "documents": len(data.documents),
        "dimension": dimension,
        "index_type": "flat",
        "index_params": {},
    }
    kind = vector_index.choose_kind(len(matrix), index_kind)
    if kind != "flat":
        # Small segments search exactly from their vectors; large ones (made by merges, or
        # a big first build) carry an approximate index, built here once.
        import faiss

        built = vector_index.build(matrix, kind)
        faiss.write_index(built.index, str(folder / FAISS_FILE))
        info["index_type"], info["index_params"] = built.kind, built.params
    info[FILES] = checksums(folder)
    with open(folder / SEGMENT, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        fsync_file(f)
    return info


_open_segments: weakref.WeakValueDictionary[Path, Segment] = weakref.WeakValueDictionary()
_open_lock = threading.Lock()


def open_segment(path: Path) -> Segment:
    """The segment at ``path``, shared by every generation that lists it while any is open:
    segments never change, so a new generation re-uses the loaded vectors, FAISS index and
    postings of the segments it keeps, and only loads what is new."""
    key = path.resolve()
    with _open_lock:
        segment = _open_segments.get(key)
        if segment is None:
            segment = Segment(key)
            _open_segments[key] = segment
        return segment


class _Guarded:
    """A segment's read-only SQLite connection whose errors name the segment's meta.sqlite."""

    def __init__(self, conn: sqlite3.Connection, segment: str) -> None:
        self.conn, self.segment = conn, segment

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple] | _Rows:
        try:
            return _Rows(self.conn.execute(sql, args).fetchall())
        except sqlite3.DatabaseError as exc:
            raise damaged(self.segment, META, f"unreadable: {exc}") from None

    def close(self) -> None:
        self.conn.close()


class _Rows(list):
    """Rows already fetched, with the cursor methods callers use."""

    def fetchall(self) -> list[tuple]:
        return list(self)

    def fetchone(self) -> tuple | None:
        return self[0] if self else None


class Segment:
    """A written segment, opened read-only; safe to search from many threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.info: dict[str, Any] = json.loads((path / SEGMENT).read_text(encoding="utf-8"))
            self.rows = int(self.info["rows"])
            self.sentence_count = int(self.info["sentences"])
        except FileNotFoundError:
            raise damaged(path.name, SEGMENT, "missing") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise damaged(path.name, SEGMENT, f"unreadable: {type(exc).__name__}") from None
        for name, expected in (self.info.get(FILES) or {}).items():
            try:
                size = (path / name).stat().st_size
            except FileNotFoundError:
                raise damaged(path.name, name, "missing") from None
            if size != expected.get("bytes"):
                raise damaged(path.name, name, f"{size} bytes, written as {expected.get('bytes')}")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._faiss = None
        self._vectors: np.ndarray | None = None
        self._sentence_vectors: np.ndarray | None = None
        self._signatures: np.ndarray | None = None
        self._signature_rows: dict[str, int] | None = None
        self._postings: Postings | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = (self.path / META).resolve().as_uri() + "?mode=ro&immutable=1"
            conn = _Guarded(sqlite3.connect(uri, uri=True, check_same_thread=False), self.name)
            self._local.conn = conn
        return conn  # type: ignore[return-value]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ------------------------------------------------------------------ vectors

    def _once(self, name: str, load: Callable[[], Any], file: str = "") -> Any:
        """The value of attribute ``name``, loaded by ``load`` on first use (one thread loads).
        A file that cannot be read is named (``file``) as damaged."""
        value = getattr(self, name)
        if value is None:
            with _LOAD_LOCK:
                value = getattr(self, name)
                if value is None:
                    try:
                        value = load()
                    except IndexDamagedError:
                        raise
                    except (OSError, ValueError, EOFError, KeyError, TypeError, sqlite3.DatabaseError) as exc:
                        raise damaged(self.name, file or name.strip("_"), f"unreadable: {type(exc).__name__}") from None
                    setattr(self, name, value)
        return value

    @property
    def vectors(self) -> np.ndarray:
        """Passage vectors (float16, memory-mapped: read only where used)."""
        import numpy as np

        return self._once("_vectors", lambda: np.load(self.path / PASSAGE_VECTORS, mmap_mode="r"), PASSAGE_VECTORS)

    @property
    def sentence_vectors(self) -> np.ndarray:
        import numpy as np

        return self._once(
            "_sentence_vectors", lambda: np.load(self.path / SENTENCE_VECTORS, mmap_mode="r"), SENTENCE_VECTORS
        )

    @property
    def postings(self) -> Postings:
        return self._once("_postings", lambda: Postings.load(self.path), "postings.npz or vocabulary.json")

    @property
    def faiss_index(self):
        if self._faiss is None:
            with self._lock:
                if self._faiss is None:
                    import faiss
                    import numpy as np

                    if self.info["index_type"] == "flat":
                        # Exact search: the index is made from the stored vectors at first use
                        # (milliseconds for a segment this size), so they are stored once.
                        index = faiss.IndexFlatIP(int(self.info["dimension"]))
                        if self.rows:
                            index.add(np.asarray(self.vectors, dtype=np.float32))
                    else:
                        try:
                            index = faiss.read_index(str(self.path / FAISS_FILE))
                        except RuntimeError:
                            raise damaged(self.name, FAISS_FILE, "unreadable") from None
                        vector_index.prepare_for_queries(index, self.info.get("index_params", {}))
                    vector_index.single_thread_queries()
                    self._faiss = index
        return self._faiss

    def search(self, query: np.ndarray, n: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, local rows) of the ``n`` nearest rows, restricted to ``allowed`` if given."""
        index = self.faiss_index
        params = vector_index.search_params(index, self.info.get("index_params", {}), allowed)
        limit = min(n, len(allowed) if allowed is not None else self.rows)
        scores, ids = index.search(query, limit, params=params) if params else index.search(query, limit)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    # ------------------------------------------------------------------ metadata

    def documents(self, ids: Iterable[str] | None = None) -> list[Document]:
        if ids is None:
            rows = self.db().execute(f"SELECT {DOC_COLUMNS} FROM documents").fetchall()
        else:
            ids, rows = list(ids), []
            for start in range(0, len(ids), 500):  # SQLite's limit on host parameters
                batch = ids[start : start + 500]
                marks = ",".join("?" * len(batch))
                sql = f"SELECT {DOC_COLUMNS} FROM documents WHERE id IN ({marks})"
                rows += self.db().execute(sql, batch).fetchall()
        return [row_doc(r) for r in rows]

    def document_index(self) -> list[tuple[str, str, str]]:
        """(id, content hash, origin) of every document in the segment."""
        return self.db().execute("SELECT id, content_hash, origin FROM documents").fetchall()

    def chunk_rows(self, rows: Sequence[int]) -> list[tuple[int, str, int, int, int]]:
        marks = ",".join("?" * len(rows))
        return (
            self.db()
            .execute(f'SELECT row, doc_id, ordinal, start, "end" FROM chunks WHERE row IN ({marks})', list(rows))
            .fetchall()
        )

    def _by_documents(self, sql: str, doc_ids: Iterable[str] | None) -> list[tuple]:
        """Rows of ``sql`` (a SELECT without WHERE) for these documents, or all, by row."""
        if doc_ids is None:
            return self.db().execute(f"{sql} ORDER BY row").fetchall()
        ids = list(doc_ids)
        out: list[tuple] = []
        for start in range(0, len(ids), 500):  # SQLite's limit on host parameters
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            out += self.db().execute(f"{sql} WHERE doc_id IN ({marks})", batch).fetchall()
        return sorted(out)

    def rows_of(self, doc_ids: Iterable[str]) -> np.ndarray:
        """Local passage rows of these documents, sorted."""
        import numpy as np

        return np.asarray([r[0] for r in self._by_documents("SELECT row FROM chunks", doc_ids)], dtype=np.int64)

    def sentence_rows_of(self, doc_ids: Iterable[str]) -> np.ndarray:
        """Local sentence rows of these documents, sorted."""
        import numpy as np

        return np.asarray([r[0] for r in self._by_documents("SELECT row FROM sentences", doc_ids)], dtype=np.int64)

    def chunk_records(self, doc_ids: Iterable[str] | None = None) -> list[tuple[int, ChunkRecord]]:
        rows = self._by_documents('SELECT row, doc_id, ordinal, start, "end", embed_hash FROM chunks', doc_ids)
        return [(r[0], ChunkRecord(*r[1:])) for r in rows]

    def sentence_records(self, doc_ids: Iterable[str] | None = None) -> list[tuple[int, SentenceRecord]]:
        rows = self._by_documents('SELECT row, doc_id, start, "end", hash FROM sentences', doc_ids)
        return [(r[0], SentenceRecord(*r[1:])) for r in rows]

    def rows_where(self, since: str | None, until: str | None, outlet: str | None, source: str | None) -> np.ndarray:
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
            args.append(f"%{like_pattern(outlet.lower())}%")
            if "(" not in outlet:  # see CLAIMED_ELSEWHERE
                clauses += ["lower(coalesce(d.outlet, '')) NOT LIKE ?"] * len(CLAIMED_ELSEWHERE)
                args += list(CLAIMED_ELSEWHERE)
        if source:
            clauses.append("(lower(d.source) LIKE ? ESCAPE '\\' OR lower(coalesce(d.url, '')) LIKE ? ESCAPE '\\')")
            args += [f"%{like_pattern(source.lower())}%"] * 2
        where = " AND ".join(clauses) or "1"
        rows = self.db().execute(f"SELECT c.row FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where}", args)
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def sentence_tokens(self) -> list[str]:
        """The stored BM25 tokens of every sentence, in row order."""
        return [r[0] for r in self.db().execute("SELECT tokens FROM sentences ORDER BY row")]

    def document_origins(self) -> list[tuple[Document, str]]:
        """Every document with its source, in document-table order (that of ``signatures``)."""
        rows = self.db().execute(f"SELECT {DOC_COLUMNS}, origin FROM documents ORDER BY rowid").fetchall()
        return [(row_doc(r), r[-1]) for r in rows]

    @property
    def signatures(self) -> np.ndarray:
        """MinHash signatures of the documents, in document-table order."""

        def load() -> np.ndarray:
            import numpy as np

            from retrieval.store.dedup import signatures

            if (self.path / SIGNATURES).is_file():
                loaded = np.load(self.path / SIGNATURES, mmap_mode="r")
                if loaded.ndim != 2 or len(loaded) != int(self.info.get("documents", len(loaded))):
                    raise ValueError("wrong shape")
                return loaded
            if FILES in self.info:  # written with one: it cannot be missing
                raise FileNotFoundError(SIGNATURES)
            texts = [r[0] for r in self.db().execute("SELECT text FROM documents ORDER BY rowid")]
            return signatures(texts)

        return self._once("_signatures", load, SIGNATURES)

    def signature_rows(self) -> dict[str, int]:
        """Document id -> its row in ``signatures``."""
        return self._once(
            "_signature_rows",
            lambda: {r[0]: i for i, r in enumerate(self.db().execute("SELECT id FROM documents ORDER BY rowid"))},
        )

    def sentences_within(self, spans: Sequence[tuple[str, int, int]]) -> list[list[tuple[int, int, int, str]]]:
        """For each (document id, start, end) span: (row, start, end, tokens) of the
        document's sentences inside it, in text order. One indexed query per 300 spans,
        which reads only those sentences (not every sentence of a long article)."""
        out: list[list[tuple[int, int, int, str]]] = [[] for _ in spans]
        for first in range(0, len(spans), 300):
            batch = spans[first : first + 300]
            clause = " UNION ALL ".join(
                f'SELECT {i}, row, start, "end", tokens FROM sentences WHERE doc_id = ? AND start >= ? AND "end" <= ?'
                for i in range(len(batch))
            )
            args = [x for span in batch for x in span]
            for i, row, start, end, tokens in self.db().execute(clause, args):
                out[first + i].append((row, start, end, tokens))
        for sentences in out:
            sentences.sort(key=lambda s: s[1])
        return out

    def chunk(self, row: int, doc: Document) -> Chunk:
        (r,) = self.chunk_rows([row])
        return Chunk(doc.id, r[2], doc.text[r[3] : r[4]], r[3], r[4])
