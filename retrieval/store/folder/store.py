"""The writer side: add segments and generations atomically, merge, roll back, one writer at a time.

Every change is a new generation: the previous generation's segments (shared, not
copied), plus at most one new segment with what is new, plus deletion marks for the
documents that changed or left. A tiered merge policy (like Lucene's) folds small
segments together as part of the write, so their number stays logarithmic in the size
of the collection; ``compact`` folds everything into one segment.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.errors import IndexMissingError, IndexWriteError, SourcedError
from retrieval.store.base import HealthReport
from retrieval.store.folder.durable import fsync_dir, fsync_file, fsync_tree
from retrieval.store.folder.lock import writer_lock
from retrieval.store.folder.schema import CURRENT, MANIFEST, SEGMENTS
from retrieval.store.folder.segment import SEGMENT, Segment, file_sha256, write_segment
from retrieval.store.folder.snapshot import FolderSnapshot
from retrieval.store.lexical import DEFAULT_PARAMS, Postings
from retrieval.store.records import (
    FORMAT_VERSION,
    Change,
    ChunkRecord,
    NothingToUndo,
    SegmentData,
    SentenceRecord,
    replace_all,
)
from retrieval.types import Document

_GENERATION = re.compile(r"gen-\d+(?:-[0-9a-f]+)?")  # what _next_name makes; never a path
# How a lost CURRENT is mended, said at the end of the doctor's line (which then needs no hint).
POINTER_FIX = "(`sourced index` writes it again; nothing is rebuilt)"

if TYPE_CHECKING:
    import numpy as np

KEEP_GENERATIONS = 5  # the live one and four to roll back to (index.keep_generations)
MERGE_FACTOR = 10  # segments of one size tier before they are merged into one
RECLAIM_DELETED = 0.5  # a segment with more than this share of deleted rows is rewritten


class FolderStore:
    """An index folder: find the live generation, write new ones atomically, lock writers."""

    def __init__(self, path: Path, keep_generations: int = KEEP_GENERATIONS, merge_factor: int = MERGE_FACTOR) -> None:
        self.path = Path(path)
        self.keep_generations = max(2, keep_generations)
        self.merge_factor = max(2, merge_factor)
        self._dead_rows: dict[tuple[str, frozenset[str]], int] = {}  # segments never change

    kind = "folder"

    @property
    def where(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------ reading

    def current_name(self) -> str | None:
        """The live generation: the one CURRENT names, or, when CURRENT is missing, empty or
        names no whole generation while whole ones are there (a disk that lost the file, a
        hand edit), the newest whole one (:meth:`pointer_problem` says so). Never None while
        a generation is kept: the collection must not be started over from nothing."""
        name = self._pointed()
        if name is not None and _GENERATION.fullmatch(name) and (self.path / name / MANIFEST).is_file():
            return name
        whole = [g for g in self.generations() if (self.path / g / MANIFEST).is_file()]
        return whole[-1] if whole else None

    def _pointed(self) -> str | None:
        try:
            return (self.path / CURRENT).read_text(encoding="utf-8", errors="replace").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexMissingError(f"Cannot read the index at {self.path}: {exc.strerror or exc}.") from None

    def pointer_problem(self) -> str | None:
        """What is wrong with CURRENT when the live generation had to be found without it."""
        live = self.current_name()
        pointed = self._pointed()
        if live is None or pointed == live:
            return None
        what = "missing" if pointed is None else "empty" if not pointed else f"naming no generation ({pointed[:40]!r})"
        return f"{CURRENT} is {what}; {live}, the newest whole generation, is read as the live one {POINTER_FIX}"

    def repair_pointer(self) -> None:
        """Point CURRENT at the live generation again when it had to be found without it. Hold the lock."""
        if self.pointer_problem() is not None:
            self._point_current(self.current_name())

    def exists(self) -> bool:
        name = self.current_name()
        return bool(name) and (self.path / name / MANIFEST).is_file()

    def open(self, check_version: bool = True) -> FolderSnapshot:
        """The live generation, or :class:`IndexMissingError` with what to run.

        ``check_version=False`` opens an older format's manifest too (to keep its sources).
        """
        name = self.current_name()
        if name is None or not (self.path / name / MANIFEST).is_file():
            raise IndexMissingError(f"No index at {self.path} yet. Run `sourced index` to build one.")
        return FolderSnapshot(self.path / name, check_version)

    def generations(self) -> list[str]:
        return sorted(p.name for p in self.path.glob("gen-*") if p.is_dir())

    def open_generation(self, name: str) -> FolderSnapshot:
        if name not in self.generations() or not (self.path / name / MANIFEST).is_file():
            raise IndexMissingError(f"No generation {name} at {self.path}.")
        return FolderSnapshot(self.path / name, check_version=False)

    def check(self) -> HealthReport:
        """`sourced doctor`: every segment whole, and the generation's counts agree with them."""
        from retrieval.store.folder.health import check_folder

        return check_folder(self)

    def writer_lock(self, wait_seconds: float = 0.0) -> contextlib.AbstractContextManager[None]:
        """Hold the writer lock, or raise :class:`IndexBusyError` if another holds it."""
        return writer_lock(self.path, wait_seconds)

    # ------------------------------------------------------------------ writing

    def write(
        self,
        documents: Sequence[Document],
        chunks: Sequence[ChunkRecord],
        embeddings: np.ndarray,
        manifest: dict[str, Any],
        texts: Sequence[str] | None = None,
        sentences: Sequence[SentenceRecord] = (),
        sentence_vectors: np.ndarray | None = None,
        origins: Sequence[str] | None = None,
    ) -> FolderSnapshot:
        """Replace the whole index with one new segment. Call with :meth:`writer_lock` held.

        ``texts``: the text of each chunk as embedded, for BM25 (default: the chunk's own text).
        """
        change = replace_all(documents, chunks, embeddings, manifest, texts, sentences, sentence_vectors, origins)
        previous = self.open() if self.exists() and self._current_format() else None
        return self.commit(previous, change, manifest)

    def _current_format(self) -> bool:
        try:
            self.open()
        except SourcedError:
            return False
        return True

    def commit(self, previous: FolderSnapshot | None, change: Change, settings: dict[str, Any]) -> FolderSnapshot:
        """Write the generation that ``change`` makes of ``previous`` (None: from nothing),
        merging segments as the policy says, and make it live. Hold :meth:`writer_lock`.

        ``settings``: model_id, dimension, chunking, lexical, index_kind... for the manifest.
        """
        self._remove_stale_temp()
        lexical = {**DEFAULT_PARAMS, **(settings.get("lexical") or {})}
        kind = settings.get("index_kind", "auto")
        entries: list[dict[str, Any]] = []
        if previous is not None and not change.replace_all:
            for entry, segment in zip(previous.manifest["segments"], previous.segments, strict=True):
                deleted = set(entry.get("deleted", ()))
                ids = {doc_id for doc_id, _, _ in segment.document_index()}
                deleted |= change.deletions & ids
                entries.append({**entry, "deleted": sorted(deleted)})
        try:
            if change.new is not None and (change.new.chunks or change.new.documents):
                entries.append(self._new_segment(change.new, lexical, kind))
            entries = self._merge(entries, lexical, kind, force=False)
            return self._publish(previous, entries, change, settings, lexical)
        except (OSError, sqlite3.OperationalError) as exc:
            raise self._write_failed(exc) from None

    def compact(self, previous: FolderSnapshot, settings: dict[str, Any]) -> FolderSnapshot:
        """Fold every segment into one and drop the deleted rows for good. Hold the lock."""
        self._remove_stale_temp()
        lexical = {**DEFAULT_PARAMS, **(settings.get("lexical") or {})}
        entries = [dict(e) for e in previous.manifest["segments"]]
        if not self.plan_merges(entries, force=True):
            return previous  # one segment, nothing deleted: already compact
        try:
            entries = self._merge(entries, lexical, settings.get("index_kind", "auto"), force=True)
            return self._publish(previous, entries, Change(action="compact"), settings, lexical)
        except (OSError, sqlite3.OperationalError) as exc:
            raise self._write_failed(exc) from None

    def _write_failed(self, exc: OSError | sqlite3.OperationalError) -> IndexWriteError:
        """What a failed write says: the disk's reason (SQLite's own words for a full
        disk, "database or disk is full"), and that the live index did not change."""
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return IndexWriteError(f"Could not write the index at {self.path} ({reason}); the previous index is unchanged.")

    def rollback(self) -> tuple[str, str]:
        """Make the generation the live one was made from live again. Hold the lock.

        Returns (undone generation, now live). The undone generation is deleted.
        """
        name = self.current_name()
        if name is None:
            raise IndexMissingError(f"No index at {self.path} yet: nothing to roll back.")
        manifest = json.loads((self.path / name / MANIFEST).read_text(encoding="utf-8"))
        parent = manifest.get("parent")
        if not parent or not (self.path / parent / MANIFEST).is_file():
            raise NothingToUndo(
                f"Nothing to roll back to: {name} is the oldest generation kept "
                f"(index.keep_generations keeps {self.keep_generations})."
            )
        self._point_current(parent)
        shutil.rmtree(self.path / name, ignore_errors=True)
        self._prune(keep=parent)
        return name, parent

    # ------------------------------------------------------------------ internals

    def _new_segment(self, data: SegmentData, lexical: dict[str, Any], kind: str) -> dict[str, Any]:
        segments = self.path / SEGMENTS
        segments.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.path))
        try:
            info = write_segment(tmp / "segment", data, lexical, kind)
            checksum = file_sha256(tmp / "segment" / SEGMENT)
            fsync_tree(tmp)
            name = self._next_name(segments, "seg")
            os.rename(tmp / "segment", segments / name)
            fsync_dir(segments)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return {
            "name": name,
            "rows": info["rows"],
            "sentences": info["sentences"],
            "documents": info["documents"],
            "deleted": [],
            "checksum": checksum,  # of its segment.json, which holds the other files' checksums
        }

    def _live_rows(self, entry: dict[str, Any]) -> tuple[int, int]:
        """(live rows, all rows) of a segment entry. Asked for by every merge-planning pass
        and again when publishing, so the count for a given set of deletions is kept."""
        rows = int(entry["rows"])
        if not entry.get("deleted"):
            return rows, rows
        key = (entry["name"], frozenset(entry["deleted"]))
        dead = self._dead_rows.get(key)
        if dead is None:
            segment = Segment(self.path / SEGMENTS / entry["name"])
            try:
                dead = len(segment.rows_of(entry["deleted"]))
            finally:
                segment.close()
            self._dead_rows[key] = dead
        return rows - dead, rows

    def plan_merges(self, entries: Sequence[dict[str, Any]], force: bool) -> list[list[int]]:
        """Which segments to fold together: groups of indexes into ``entries``.

        Tiered, like Lucene's: a segment's tier is log_factor of its live rows; when a tier
        holds ``merge_factor`` segments they become one (of the next tier up). A segment
        with more than half its rows deleted is rewritten. ``force``: everything into one.
        """
        sizes = [self._live_rows(e) for e in entries]
        if force:
            needs = len(entries) > 1 or any(live < rows for live, rows in sizes)
            return [list(range(len(entries)))] if needs and entries else []
        tiers: dict[int, list[int]] = {}
        for i, (live, _) in enumerate(sizes):
            tiers.setdefault(int(math.log(max(live, 1), self.merge_factor)), []).append(i)
        groups = [members for _, members in sorted(tiers.items()) if len(members) >= self.merge_factor]
        grouped = {i for g in groups for i in g}
        for i, (live, rows) in enumerate(sizes):
            if i not in grouped and rows and (rows - live) / rows > RECLAIM_DELETED:
                groups.append([i])
        return groups

    def _merge(self, entries: list[dict[str, Any]], lexical: dict[str, Any], kind: str, force: bool) -> list:
        # Merging can cascade: ten tier-0 segments make a tier-1 one, which may complete tier 1.
        for _ in range(8):
            groups = self.plan_merges(entries, force)
            if not groups:
                return entries
            merged_away: set[int] = set()
            new_entries = []
            for group in groups:
                new_entries.append(self._merge_group([entries[i] for i in group], lexical, kind))
                merged_away |= set(group)
            # The merged segment takes the place of its first member, so row order (and so
            # ranking ties) stays as stable as it can.
            out = []
            for i, entry in enumerate(entries):
                for group, merged in zip(groups, new_entries, strict=True):
                    if i == group[0]:
                        out.append(merged)
                if i not in merged_away:
                    out.append(entry)
            entries = [e for e in out if e["rows"] > 0]
            if force:
                return entries
        return entries

    def _merge_group(self, group: Sequence[dict[str, Any]], lexical: dict[str, Any], kind: str) -> dict[str, Any]:
        import numpy as np

        documents: list[Document] = []
        origins: list[str] = []
        chunks: list[ChunkRecord] = []
        vectors, sentence_vectors, postings, signatures = [], [], [], []
        sentences: list[SentenceRecord] = []
        sentence_tokens: list[str] = []
        for entry in group:
            segment = Segment(self.path / SEGMENTS / entry["name"])
            try:
                deleted = set(entry.get("deleted", ()))
                minhash = segment.signatures
                for i, (doc, origin) in enumerate(segment.document_origins()):
                    if doc.id not in deleted:
                        documents.append(doc)
                        origins.append(origin)
                        signatures.append(minhash[i])
                live = np.ones(segment.rows, dtype=bool)
                if deleted:
                    live[segment.rows_of(deleted)] = False
                records = segment.chunk_records()
                chunks += [rec for (row, rec) in records if live[row]]
                vectors.append(np.asarray(segment.vectors, dtype=np.float32)[live])
                postings.append((segment.postings, live if deleted else None))
                sentence_live = np.ones(segment.sentence_count, dtype=bool)
                if deleted:
                    sentence_live[segment.sentence_rows_of(deleted)] = False
                sentence_records = segment.sentence_records()
                tokens = segment.sentence_tokens()
                sentences += [rec for row, rec in sentence_records if sentence_live[row]]
                sentence_tokens += [t for row, t in enumerate(tokens) if sentence_live[row]]
                sentence_vectors.append(np.asarray(segment.sentence_vectors)[sentence_live])
            finally:
                segment.close()
        dimension = next((v.shape[1] for v in vectors if v.ndim == 2), 0)
        data = SegmentData(
            documents,
            origins,
            chunks,
            np.concatenate(vectors) if vectors else np.zeros((0, dimension), dtype=np.float32),
            None,
            sentences,
            np.concatenate(sentence_vectors) if sentence_vectors else np.zeros((0, dimension), dtype=np.int8),
            postings=Postings.merge(postings),
            sentence_tokens=sentence_tokens,
            signatures=np.stack(signatures) if signatures else None,
        )
        return self._new_segment(data, lexical, kind)

    def _publish(
        self,
        previous: FolderSnapshot | None,
        entries: list[dict[str, Any]],
        change: Change,
        settings: dict[str, Any],
        lexical: dict[str, Any],
    ) -> FolderSnapshot:
        live_docs = live_rows = 0
        for entry in entries:
            live, _ = self._live_rows(entry)
            live_rows += live
            live_docs += self._live_documents(entry)
        sources = change.sources if change.sources is not None else (previous.sources if previous else [])
        manifest = {
            **{k: v for k, v in settings.items() if k not in ("segments", "sources", "parent")},
            "format_version": FORMAT_VERSION,
            "lexical": lexical,
            "segments": entries,
            "sources": sources,
            "documents": live_docs,
            "chunks": live_rows,
            "parent": previous.generation if previous is not None else None,
            "action": change.action or settings.get("action", ""),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.path))
        try:
            with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
                json.dump(manifest, f, indent=2, sort_keys=True)
                fsync_file(f)
            fsync_dir(tmp)
            name = self._next_name(self.path, "gen")
            os.rename(tmp, self.path / name)
            fsync_dir(self.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            self._point_current(name)
        except BaseException:
            # Never live: it must not be found later as the newest whole generation.
            shutil.rmtree(self.path / name, ignore_errors=True)
            raise
        self._prune(keep=name)
        return FolderSnapshot(self.path / name)

    def _live_documents(self, entry: dict[str, Any]) -> int:
        total = entry.get("documents")
        if total is None:
            # Entries written before the count was kept in the manifest: read the segment's.
            segment = Segment(self.path / SEGMENTS / entry["name"])
            try:
                total = int(segment.info["documents"])
            finally:
                segment.close()
            entry["documents"] = total
        return int(total) - len(entry.get("deleted", ()))

    def _point_current(self, name: str) -> None:
        current_tmp = self.path / f".{CURRENT}.tmp"
        with open(current_tmp, "w", encoding="utf-8") as f:
            f.write(name + "\n")
            fsync_file(f)
        os.replace(current_tmp, self.path / CURRENT)
        fsync_dir(self.path)

    @staticmethod
    def _next_name(folder: Path, prefix: str) -> str:
        """``prefix-NNNNNN-xxxxxxxx``: numbered in order, and never the name of one that was
        deleted (a rollback, a collected segment), so a reader can trust that a name it has
        seen always means the same contents."""
        numbers = [int(p.name.split("-")[1]) for p in folder.glob(f"{prefix}-*") if p.name.split("-")[1].isdigit()]
        return f"{prefix}-{max(numbers, default=0) + 1:06d}-{os.urandom(4).hex()}"

    def _remove_stale_temp(self) -> None:
        # Left by a writer that crashed; we hold the lock, so none is in progress.
        for stale in self.path.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)

    def _prune(self, keep: str) -> None:
        # Older generations stay for `sourced rollback` (and for readers that just opened one):
        # the live one's ancestors, keep_generations in all. Any other never was, or no longer
        # is, on the way back (written and then not made live: a write killed before CURRENT
        # moved, a generation rolled back): it must not be found later as the newest whole one.
        chain = self._chain(keep)[: self.keep_generations]
        for gen in self.generations():
            if gen not in chain:
                shutil.rmtree(self.path / gen, ignore_errors=True)
        self._collect_segments()

    def _chain(self, live: str) -> list[str]:
        """``live`` and its ancestors (each manifest's parent), newest first."""
        chain: list[str] = []
        name: str | None = live
        while name and name not in chain and (self.path / name / MANIFEST).is_file():
            chain.append(name)
            try:
                name = json.loads((self.path / name / MANIFEST).read_text(encoding="utf-8")).get("parent")
            except (OSError, ValueError):
                break
        return chain

    def referenced_segments(self) -> set[str]:
        names: set[str] = set()
        for gen in self.generations():
            try:
                manifest = json.loads((self.path / gen / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            names |= {e["name"] for e in manifest.get("segments", ())}
        return names

    def _collect_segments(self) -> None:
        """Delete segments no kept generation lists (merged away, or only in pruned ones)."""
        folder = self.path / SEGMENTS
        if not folder.is_dir():
            return
        used = self.referenced_segments()
        for segment in folder.glob("seg-*"):
            if segment.name not in used:
                shutil.rmtree(segment, ignore_errors=True)

    def disk_bytes(self, names: Iterable[str] | None = None) -> int:
        """Bytes on disk of the whole index folder (or of the named entries in it)."""
        roots = [self.path] if names is None else [self.path / n for n in names]
        return sum(f.stat().st_size for root in roots for f in root.rglob("*") if f.is_file())
