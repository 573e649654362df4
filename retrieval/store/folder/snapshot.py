"""The reader side: one generation of the index (its segments minus deletion marks),
searched from many threads as if it were one index.

Rows are numbered across the collection: a segment's rows follow the rows of the
segments listed before it, deleted rows included (they are never returned). The same
holds for sentence rows.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.errors import IndexMismatchError, IndexMissingError
from retrieval.store.folder.schema import MANIFEST, SEGMENTS
from retrieval.store.folder.segment import Segment, open_segment
from retrieval.store.lexical import CollectionBM25, LexicalPart
from retrieval.store.records import FORMAT_VERSION, SENTENCE_SCALE, ChunkRecord, ManifestFacts, SentenceRecord
from retrieval.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

# Below this many deleted rows a segment is searched for n + deleted hits and the deleted
# ones dropped; above it, the search is restricted to the live rows inside FAISS.
_OVERFETCH_LIMIT = 1024


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexMissingError(f"The index at {path.parent} is damaged (manifest unreadable: {exc}).") from None


class FolderSnapshot(ManifestFacts):
    """One immutable generation of the index, safe to search from many threads."""

    def __init__(self, path: Path, check_version: bool = True) -> None:
        import numpy as np

        self.path = path
        self.manifest = read_manifest(path)
        self._document_index: dict[str, tuple[str, str, int]] | None = None
        if check_version and self.manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"The index at {path.parent} has format version {self.manifest.get('format_version')}, "
                f"this version of sourced reads {FORMAT_VERSION}. Run `sourced index` to update it."
            )
        self._lock = threading.Lock()
        self._lexical: CollectionBM25 | None = None
        self.segments: list[Segment] = []
        self.deleted: list[frozenset[str]] = []  # document ids deleted from each segment
        self.bases: list[int] = []
        self.sentence_bases: list[int] = []
        rows = sentences = 0
        for entry in self.manifest.get("segments", []):
            segment = open_segment(path.parent / SEGMENTS / entry["name"])
            self.segments.append(segment)
            self.deleted.append(frozenset(entry.get("deleted", ())))
            self.bases.append(rows)
            self.sentence_bases.append(sentences)
            rows += segment.rows
            sentences += segment.sentence_count
        self.rows = rows
        self.sentence_rows = sentences
        # Live masks (True = live) of the segments that have deletions; None: all live.
        self.live: list[np.ndarray | None] = []
        for segment, deleted in zip(self.segments, self.deleted, strict=True):
            if not deleted:
                self.live.append(None)
                continue
            mask = np.ones(segment.rows, dtype=bool)
            mask[segment.rows_of(deleted)] = False
            self.live.append(mask)

    # ------------------------------------------------------------------ what it is

    @property
    def generation(self) -> str:
        return self.path.name

    @property
    def segment_count(self) -> int:
        return len(self.segments)

    def _segment_of(self, row: int) -> int:
        return bisect.bisect_right(self.bases, row) - 1

    def _sentence_segment_of(self, row: int) -> int:
        return bisect.bisect_right(self.sentence_bases, row) - 1

    def _split(self, rows: Sequence[int]) -> dict[int, list[int]]:
        """Global rows -> local rows, grouped by segment index."""
        out: dict[int, list[int]] = {}
        for row in rows:
            i = self._segment_of(int(row))
            out.setdefault(i, []).append(int(row) - self.bases[i])
        return out

    # ------------------------------------------------------------------ search

    def search(self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``n`` nearest live rows to ``vector`` by inner product, best first.

        ``allowed``: search only these rows (a filter), exactly, inside FAISS.
        """
        import numpy as np

        if self.chunk_count == 0 or n <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        found: list[tuple[float, int]] = []
        for i, segment in enumerate(self.segments):
            if segment.rows == 0:
                continue
            base, live = self.bases[i], self.live[i]
            local_allowed = None
            if allowed is not None:
                local_allowed = allowed[(allowed >= base) & (allowed < base + segment.rows)] - base
                if len(local_allowed) == 0:
                    continue
            dead = 0 if live is None else segment.rows - int(live.sum())
            want = n
            if dead and local_allowed is None and dead > _OVERFETCH_LIMIT:
                local_allowed = np.flatnonzero(live)
            elif dead and local_allowed is not None:
                local_allowed = local_allowed[live[local_allowed]]
                if len(local_allowed) == 0:
                    continue
            elif dead:
                want = n + dead
            scores, ids = segment.search(query, want, local_allowed)
            if live is not None:
                keep = live[ids]
                scores, ids = scores[keep], ids[keep]
            found += [(float(s), int(r) + base) for s, r in zip(scores[:n], ids[:n], strict=True)]
        found.sort(key=lambda x: (-x[0], x[1]))
        return [(row, score) for score, row in found[:n]]

    @property
    def lexical(self) -> CollectionBM25:
        if self._lexical is None:
            with self._lock:
                if self._lexical is None:
                    parts = [
                        LexicalPart(segment.postings, base, live)
                        for segment, base, live in zip(self.segments, self.bases, self.live, strict=True)
                    ]
                    self._lexical = CollectionBM25(parts, self.rows, self.manifest.get("lexical") or {})
        return self._lexical

    def _gather(self, rows: Sequence[int], bases: list[int], part: Callable[[Segment], np.ndarray]) -> np.ndarray:
        """Rows of a per-segment matrix, by collection-wide row number, as float32."""
        import numpy as np

        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(self.segments) == 1:
            return np.asarray(part(self.segments[0])[rows], dtype=np.float32)
        out = np.empty((len(rows), self.dimension), dtype=np.float32)
        if not len(rows):
            return out
        starts = np.asarray(bases, dtype=np.int64)
        which = np.searchsorted(starts, rows, side="right") - 1
        for i in np.unique(which):
            mask = which == i
            out[mask] = part(self.segments[int(i)])[rows[mask] - starts[i]]
        return out

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of some rows (exact, whatever the FAISS index type)."""
        return self._gather(rows, self.bases, lambda segment: segment.vectors)

    def sentence_vectors(self, rows: Sequence[int]) -> np.ndarray:
        """Sentence vectors by sentence row, as float32 (stored as int8)."""
        return self._gather(rows, self.sentence_bases, lambda segment: segment.sentence_vectors) / SENTENCE_SCALE

    def stored_vectors(self, refs: Sequence[tuple[int, int]], sentences: bool = False) -> np.ndarray:
        """Vectors by the (segment index, local row) references :meth:`stored_records` gives."""
        import numpy as np

        out = np.empty((len(refs), self.dimension), dtype=np.float32)
        for i, (segment, row) in enumerate(refs):
            if sentences:
                out[i] = np.asarray(self.segments[segment].sentence_vectors[row], dtype=np.float32) / SENTENCE_SCALE
            else:
                out[i] = self.segments[segment].vectors[row]
        return out

    # ------------------------------------------------------------------ metadata

    def signatures(self, doc_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """MinHash signature of each live document named (``retrieval.store.dedup``)."""
        wanted = set(doc_ids)
        out: dict[str, np.ndarray] = {}
        for segment, deleted in zip(self.segments, self.deleted, strict=True):
            if not wanted:
                break
            rows = segment.signature_rows()
            here = [d for d in wanted if d in rows and d not in deleted]
            if here:
                block = segment.signatures[[rows[d] for d in here]]
                out.update(zip(here, block, strict=True))
                wanted -= set(here)
        return out

    def chunk_refs(self, rows: Sequence[int]) -> dict[int, tuple[str, int, int, int]]:
        """(document id, ordinal, start, end) of each live row, without loading documents:
        enough to group candidates by article before only the page's are read."""
        out: dict[int, tuple[str, int, int, int]] = {}
        for i, local_rows in self._split(rows).items():
            if not 0 <= i < len(self.segments):
                continue
            segment, base, deleted = self.segments[i], self.bases[i], self.deleted[i]
            for row, doc_id, ordinal, start, end in segment.chunk_rows(local_rows):
                if doc_id not in deleted:
                    out[row + base] = (doc_id, ordinal, start, end)
        return out

    def chunks(self, rows: Sequence[int]) -> dict[int, tuple[Chunk, Document]]:
        """Chunk and document for each live row (rows not in the index are left out)."""
        refs = self.chunk_refs(rows)
        wanted: dict[int, set[str]] = {}
        for row, (doc_id, *_) in refs.items():
            wanted.setdefault(self._segment_of(row), set()).add(doc_id)
        docs = {d.id: d for i, ids in wanted.items() for d in self.segments[i].documents(sorted(ids))}
        out: dict[int, tuple[Chunk, Document]] = {}
        for row, (doc_id, ordinal, start, end) in refs.items():
            doc = docs[doc_id]
            out[row] = (Chunk(doc_id, ordinal, doc.text[start:end], start, end), doc)
        return out

    def documents(self, ids: Iterable[str] | None = None) -> list[Document]:
        """Live documents, newest first (then by title)."""
        wanted = None if ids is None else set(ids)
        docs = []
        for segment, deleted in zip(self.segments, self.deleted, strict=True):
            for doc in segment.documents(None if wanted is None else wanted):
                if doc.id not in deleted:
                    docs.append(doc)
        docs.sort(key=lambda d: (d.published is None, -(d.published.timestamp() if d.published else 0), d.title))
        return docs

    def document_index(self) -> dict[str, tuple[str, str, int]]:
        """Live document id -> (content hash, origin, segment index). Read once per
        generation (it never changes) and shared by every caller, who must not change it:
        one sync asks for it several times, which cost a scan of every segment each time."""
        if self._document_index is None:
            out = {}
            for i, (segment, deleted) in enumerate(zip(self.segments, self.deleted, strict=True)):
                for doc_id, content_hash, origin in segment.document_index():
                    if doc_id not in deleted:
                        out[doc_id] = (content_hash, origin, i)
            self._document_index = out
        return self._document_index

    def rows_where(self, since: str | None, until: str | None, outlet: str | None, source: str | None) -> np.ndarray:
        """Live rows whose document passes the filters (dates as ISO text)."""
        import numpy as np

        parts = []
        for segment, base, live in zip(self.segments, self.bases, self.live, strict=True):
            local = segment.rows_where(since, until, outlet, source)
            if live is not None:
                local = local[live[local]]
            parts.append(local + base)
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def sentences_in(self, spans: Sequence[tuple[int, str, int, int]]) -> list[list[tuple[int, int, int, str]]]:
        """For each (chunk row, document id, start, end) span: (sentence row, start, end,
        tokens) of the document's sentences inside it."""
        by_segment: dict[int, list[int]] = {}
        for n, (row, _, _, _) in enumerate(spans):
            by_segment.setdefault(self._segment_of(int(row)), []).append(n)
        out: list[list[tuple[int, int, int, str]]] = [[] for _ in spans]
        for i, positions in by_segment.items():
            base = self.sentence_bases[i]
            found = self.segments[i].sentences_within([spans[n][1:] for n in positions])
            for n, sentences in zip(positions, found, strict=True):
                out[n] = [(r + base, a, b, t) for r, a, b, t in sentences]
        return out

    def rows_of_documents(self, doc_ids: Iterable[str]) -> np.ndarray:
        """The (global) passage rows of the live documents among ``doc_ids``, sorted."""
        import numpy as np

        rows = [
            self.bases[segment] + local
            for segment, chunks, _ in self.stored_records(doc_ids).values()
            for local, _ in chunks
        ]
        return np.array(sorted(rows), dtype=np.int64)

    def stored_records(self, doc_ids: Iterable[str]) -> dict[str, tuple[int, list, list]]:
        """For live documents: (segment index, [(local row, ChunkRecord)], [(local row, SentenceRecord)])."""
        index = self.document_index()
        by_segment: dict[int, list[str]] = {}
        for doc_id in doc_ids:
            if doc_id in index:
                by_segment.setdefault(index[doc_id][2], []).append(doc_id)
        out: dict[str, tuple[int, list, list]] = {}
        for i, ids in by_segment.items():
            segment = self.segments[i]
            for doc_id in ids:
                out[doc_id] = (i, [], [])
            for row, rec in segment.chunk_records(ids):
                out[rec.doc_id][1].append((row, rec))
            for row, rec in segment.sentence_records(ids):
                out[rec.doc_id][2].append((row, rec))
        return out

    def chunk_records(self) -> dict[str, list[tuple[int, ChunkRecord]]]:
        """(global row, record) of every live chunk, grouped by document, in order."""
        grouped: dict[str, list[tuple[int, ChunkRecord]]] = {}
        for segment, base, deleted in zip(self.segments, self.bases, self.deleted, strict=True):
            for row, rec in segment.chunk_records():
                if rec.doc_id not in deleted:
                    grouped.setdefault(rec.doc_id, []).append((row + base, rec))
        for records in grouped.values():
            records.sort(key=lambda item: item[1].ordinal)
        return grouped

    def sentence_records(self) -> list[tuple[int, SentenceRecord]]:
        """(global sentence row, record) of every live sentence, in row order."""
        out = []
        for segment, base, deleted in zip(self.segments, self.sentence_bases, self.deleted, strict=True):
            out += [(row + base, rec) for row, rec in segment.sentence_records() if rec.doc_id not in deleted]
        return out

    def embeddings(self) -> np.ndarray:
        """Every passage vector as float32, row-aligned (deleted rows included; for benchmarks)."""
        import numpy as np

        parts = [np.asarray(segment.vectors, dtype=np.float32) for segment in self.segments]
        return np.concatenate(parts) if parts else np.zeros((0, self.dimension), dtype=np.float32)

    def close(self) -> None:
        """Close this thread's database connections (segments may be shared by other snapshots)."""
        for segment in self.segments:
            segment.close()
