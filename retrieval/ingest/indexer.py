"""Keep the collection: add, sync and remove sources, embedding only what is new.

A sync reads each source it is asked to, compares what it finds with what the index
holds from that source (by content hash), embeds only new or changed articles (re-using
the stored vectors of passages and sentences whose text did not change) and writes one
small segment plus deletion marks. A source that cannot be read changes nothing: its
articles stay until it is removed, and the report says so. An index built with another
model or other chunking settings is rebuilt, from the sources and, for a source that
cannot be read now, from the articles already stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from retrieval import __version__
from retrieval.config import Config, resolve_path
from retrieval.embedding import Embedder
from retrieval.errors import IndexMismatchError, SourcedError
from retrieval.ingest.chunking import ChunkSettings, chunk_one
from retrieval.ingest.clean import Cleaner
from retrieval.ingest.plan import Plan, action_of, named_sources, refuse_unreadable, removing_keys, with_also
from retrieval.ingest.progress import IndexProgress, NoProgress, preparing
from retrieval.ingest.readers import Collection, CollectionReader, Problem
from retrieval.ingest.readers.fields import in_future
from retrieval.ingest.report import IndexReport, SourceReport
from retrieval.ingest.sources import (
    Source,
    SourceState,
    is_web,
    kind_of,
    now,
    read_state,
    samples_key,
    source_key,
    unreadable_reason,
    with_sync,
    write_state,
)
from retrieval.paths import bundled_articles
from retrieval.store import Change, ChunkRecord, SegmentData, SentenceRecord, Snapshot, Store
from retrieval.store.lexical import FOLD
from retrieval.types import Document


class Indexer:
    """Reads sources and writes what changed to an index folder."""

    def __init__(self, config: Config, store: Store, embedder: Embedder, public_web_only: bool = False) -> None:
        self.config = config
        self.store = store
        self.embedder = embedder
        self.public_web_only = public_web_only  # web sources on private addresses are refused
        self.store.keep_generations = max(2, config.index.keep_generations)
        self.store.merge_factor = max(2, config.index.merge_factor)
        self._fetcher = None  # made when a web source is synced, closed after the sync
        self._budget = None  # the sync's time for web sources, started with the fetcher

    # ------------------------------------------------------------------ settings

    def chunk_settings(self) -> dict[str, object]:
        c = self.config.chunking
        return {"max_tokens": c.max_tokens, "overlap_sentences": c.overlap_sentences, "embed_title": c.embed_title}

    def settings(self) -> dict[str, object]:
        """What the manifest records, and what must match for the index to be updated in place."""
        return {
            "model_id": self.embedder.model_id,
            "dimension": self.embedder.dimension,
            "chunking": self.chunk_settings(),
            "index_kind": self.config.index.kind,
            "lexical": {"k1": self.config.index.bm25_k1, "b": self.config.index.bm25_b, "fold": FOLD},
            "sentence_vectors": self.config.index.sentence_vectors,
            "sourced_version": __version__,
        }

    def _compatible(self, snap: Snapshot) -> bool:
        m, s = snap.manifest, self.settings()
        return (
            snap.current_format
            and m.get("model_id") == s["model_id"]
            and m.get("dimension") == s["dimension"]
            and m.get("chunking") == s["chunking"]
            and m.get("index_kind") == s["index_kind"]
            and m.get("sentence_vectors") == s["sentence_vectors"]
            and all(
                m.get("lexical", {}).get(k) == v
                for k, v in s["lexical"].items()  # type: ignore[union-attr]
                if k != "fold"  # an index keeps its own folding until rebuilt (_lexical)
            )
            # A folding this version does not know (a later one's) is rebuilt, never mixed.
            and m.get("lexical", {}).get("fold") in (None, FOLD)
        )

    def _lexical(self, previous: Snapshot | None, force: bool) -> dict[str, object]:
        """The BM25 settings a commit writes with. A new or rebuilt index folds accents; one
        written before folding existed keeps tokenising as it did, so its segments and the
        questions asked of it agree (`sourced index --rebuild` folds it)."""
        lexical = dict(self.settings()["lexical"])  # type: ignore[arg-type]
        if previous is not None and not force:
            kept = (previous.manifest.get("lexical") or {}).get("fold")
            if kept is None:
                lexical.pop("fold", None)
            else:
                lexical["fold"] = kept
        return lexical

    # ------------------------------------------------------------------ entry points

    def run(
        self, paths: Sequence[Path | str] = (), progress: IndexProgress | None = None, rebuild: bool = False
    ) -> IndexReport:
        """`sourced index [PATH...]`: sync every registered source, adding any PATH given.

        With nothing registered and no PATH: the configured ``sources.paths``, else the
        bundled sample articles, are registered first.
        """
        return self._sync(add=paths, remove=(), only_added=False, progress=progress, rebuild=rebuild)

    def add(self, paths: Sequence[Path | str], progress: IndexProgress | None = None) -> IndexReport:
        """`sourced add PATH...`: register and index these sources (the others are not re-read)."""
        return self._sync(add=paths, remove=(), only_added=True, progress=progress, rebuild=False, strict_add=True)

    def remove(self, keys: Sequence[str], progress: IndexProgress | None = None) -> IndexReport:
        """`sourced remove SOURCE...`: drop these sources and their articles."""
        return self._sync(add=(), remove=keys, only_added=True, progress=progress, rebuild=False)

    def read(self, roots: Sequence[Path], progress: IndexProgress | None = None) -> Collection:
        """Read the articles under ``roots`` with this config's cleaning and metadata rules."""
        progress = progress or NoProgress()
        sources_file = (
            resolve_path(self.config, self.config.sources.sources_file) if self.config.sources.sources_file else None
        )
        reader = CollectionReader(Cleaner(self.config.clean), self.config.sources, sources_file)
        # An engine with a cluster (Ray) parses and cleans the files there.
        mapper = getattr(self.embedder, "read_files", None)
        return reader.read(roots, progress=lambda done, total, _path: progress.reading(done, total), mapper=mapper)

    def index_documents(
        self, documents: Sequence[Document], progress: IndexProgress | None = None, label: str = "documents"
    ) -> IndexReport:
        """Index documents made in code (benchmarks, tests) as the one source ``label``."""
        started = time.perf_counter()
        progress = progress or NoProgress()
        with self.store.writer_lock():
            previous = self._previous()
            rebuild = previous is not None and not self._compatible(previous)
            index = previous.document_index() if previous is not None and not rebuild else {}
            registry = [Source(label, "documents", now())]
            plan = Plan()
            self._apply(plan, previous, label, "documents", Collection(tuple(documents), (), 0, 0), index)
            # The same documents under the same label change nothing: no new generation.
            same_source = previous is not None and [s["key"] for s in previous.sources] == [label]
            return self._write(
                previous,
                plan,
                registry,
                {},
                progress,
                started,
                "index documents",
                force=rebuild,
                registry_changed=not same_source,
            )

    # ------------------------------------------------------------------ the sync

    def _previous(self) -> Snapshot | None:
        if not self.store.exists():
            return None
        try:
            return self.store.open()
        except IndexMismatchError:
            return None

    def _registry(self) -> list[Source]:
        """The registered sources, also from an index written by an older version."""
        if not self.store.exists():
            return []
        try:
            snap = self.store.open(check_version=False)
        except SourcedError:
            return []
        if snap.current_format:
            return [Source.from_json(s) for s in snap.sources]
        # Format 4 and older recorded the folders of the last run as plain paths.
        return [Source(source_key(p), kind_of(Path(p)), now()) for p in snap.manifest.get("sources") or []]

    def _sync(
        self,
        add: Sequence[Path | str],
        remove: Sequence[str],
        only_added: bool,
        progress: IndexProgress | None,
        rebuild: bool,
        strict_add: bool = False,
    ) -> IndexReport:
        """Plan what a sync changes (which sources, what leaves), read what it names, write
        one generation; then, and only then, keep the HTTP validators it was read with."""
        started = time.perf_counter()
        progress = progress or NoProgress()
        with self.store.writer_lock(), self._web_session():
            repair = getattr(self.store, "repair_pointer", None)
            if repair is not None:
                repair()  # a lost CURRENT: the newest whole generation is live, said so again
            previous = self._previous()
            registry = self._registry()
            if previous is not None and not self._compatible(previous):
                # Another model or other settings: every source is read again, whatever the command.
                rebuild, only_added = True, False
            keys = [s.key for s in registry]
            plan = Plan()
            folders = [s.key for s in registry if s.kind == "folder" and not s.samples]
            named = named_sources(add, keys, strict_add, plan, folders)
            removing = removing_keys(remove, keys)
            defaults = self._defaults(registry, named, removing, only_added, keys)
            named += defaults
            unasked = {k for k, _ in defaults if not self.store.exists() and k == samples_key()}
            only_samples = len(registry) == 1 and registry[0].samples
            state = read_state(self.store.path)
            index = previous.document_index() if previous is not None and not rebuild else {}
            # Removals: an article that a remaining source also holds stays, under it.
            # A removed source's sync state stays: a rollback that restores it shows its real last sync.
            registry = self._remove(plan, removing, registry, index, previous)
            state = refuse_unreadable(plan, named, keys, state)
            registry += [
                Source(key, "page" if is_web(key) else kind_of(path), now(), samples=key in unasked)
                for key, path in named
                if key not in keys
            ]
            targets = [s for s in registry if s.key in {k for k, _ in named}] if only_added else list(registry)
            for source in targets:
                if source.kind == "documents":
                    continue
                sync_one = self._sync_web if is_web(source.key) else self._sync_folder
                registry, state = sync_one(source, plan, previous, index, registry, keys, state, rebuild, progress)
            if only_samples:
                registry, state = self._samples_make_way(plan, registry, keys, state, index, previous)
            if rebuild and previous is not None:
                # Sources not re-read this time (documents made in code) keep their articles.
                for source in registry:
                    if source.kind == "documents":
                        self._keep_stored(plan, previous, source.key)
            registry, also_changed = with_also(registry, plan)
            report = self._write(
                previous,
                plan,
                registry,
                state,
                progress,
                started,
                action_of(add, remove, rebuild),
                force=rebuild,
                registry_changed=[s.key for s in registry] != keys or also_changed,
            )
            if self._fetcher is not None:
                # After the commit: validators describe what the live generation holds. Saved
                # before it, a kill or a full disk in between would leave a cache promising
                # articles the index never got (a feed's items then answer 304 for good).
                self._fetcher.cache.save(self.store.path)
            return report

    def _defaults(
        self,
        registry: list[Source],
        named: list[tuple[str, Path]],
        removing: set[str],
        only_added: bool,
        keys: list[str],
    ) -> list[tuple[str, Path]]:
        """What a sync adds unasked: in a collection never written to (no generation yet),
        ``sources.paths`` (else the bundled articles); otherwise any ``sources.paths`` entry
        not registered yet. That the collection has a generation records that it was set up,
        so removing every source never brings the samples back."""
        if not registry and not named and not removing and not self.store.exists():
            defaults = [resolve_path(self.config, p) for p in self.config.sources.paths] or [bundled_articles()]
            return [(source_key(p), Path(source_key(p))) for p in defaults]
        extra: list[tuple[str, Path]] = []
        if not only_added:
            for p in self.config.sources.paths:
                key = source_key(resolve_path(self.config, p))
                if key not in keys and key not in [k for k, _ in named] + [k for k, _ in extra]:
                    extra.append((key, Path(key)))
        return extra

    def _samples_make_way(
        self,
        plan: Plan,
        registry: list[Source],
        keys: list[str],
        state: dict[str, SourceState],
        index: dict[str, tuple[str, str, int]],
        previous: Snapshot | None,
    ) -> tuple[list[Source], dict[str, SourceState]]:
        """The user's first source of their own, in a collection holding only the sample
        articles its first build registered unasked, replaces them (`sourced add --samples`
        brings them back). Decided after the new source was read: a typo or an unreachable
        feed leaves the samples where they are."""
        samples = keys[0]
        if not any(r.status == "added" and r.key != samples for r in plan.reports):
            return registry, state
        registry, _ = with_also(registry, plan)  # what the new source shares with them is handed over
        registry = self._remove(plan, {samples}, registry, index, previous)
        for key, (ids, whole) in list(plan.also.items()):  # articles handed over are now its own
            plan.also[key] = ({i for i in ids if index.get(i, ("", "", 0))[1] != key}, whole)
        plan.reports[-1] = dataclasses.replace(plan.reports[-1], samples=True)
        return registry, state

    def _sync_folder(
        self,
        source: Source,
        plan: Plan,
        previous: Snapshot | None,
        index: dict[str, tuple[str, str, int]],
        registry: list[Source],
        keys: list[str],
        state: dict[str, SourceState],
        rebuild: bool,
        progress: IndexProgress,
    ) -> tuple[list[Source], dict[str, SourceState]]:
        """Read a file or folder and compare its articles with what the index holds."""
        path = Path(source.key)
        reason = unreadable_reason(path)
        if reason is not None:
            if not any(r.key == source.key for r in plan.reports):
                held = sum(1 for _, origin, _ in index.values() if origin == source.key)
                plan.reports.append(SourceReport(source.key, source.kind, "unreadable", held, reason=reason))
            if rebuild and previous is not None:
                self._keep_stored(plan, previous, source.key)
            return registry, with_sync(state, source.key, reason)
        collection = self.read([path], progress)
        # What the live index holds from it (on a rebuild too, where ``index`` is empty).
        stored = previous.document_index() if previous is not None else {}
        held = [doc_id for doc_id, (_, origin, _) in stored.items() if origin == source.key]
        if source.key in keys and held and path.is_dir() and collection.files_read == 0:
            # A registered folder that holds articles and suddenly no file (an unmounted
            # disk's mount point, a half-finished move) is not read as "everything gone".
            reason = "the folder has no article files now (an unmounted disk?)"
            plan.reports.append(SourceReport(source.key, source.kind, "unreadable", len(held), reason=reason))
            if rebuild and previous is not None:
                self._keep_stored(plan, previous, source.key)
            return registry, with_sync(state, source.key, reason)
        plan.files_read += collection.files_read
        plan.merged += collection.merged
        plan.problems += collection.problems
        if source.key not in keys and source.kind == "file" and not collection.documents:
            # A new file with no article in it (an image, a binary) is not registered.
            reason = collection.problems[0].reason if collection.problems else "no article in it"
            plan.reports.append(SourceReport(source.key, source.kind, "unreadable", reason=reason))
            return [s for s in registry if s.key != source.key], state
        status = "added" if source.key not in keys else "synced"
        kept = self._kept_from_failed_files(plan, previous, held, collection)
        if rebuild and kept:
            # A rebuild writes everything anew: the articles kept come from the index, as
            # those of a source that cannot be read do (_keep_stored), unless another
            # source already holds the same article in this run.
            claimed = {d.id for d in plan.documents}
            again = [d for d in previous.documents(kept) if d.id not in claimed]
            plan.documents += again
            plan.origins += [source.key] * len(again)
            kept = set()
        self._apply(
            plan, None if rebuild else previous, source.key, source.kind, collection, index, status, unchanged_ids=kept
        )
        return registry, with_sync(state, source.key, None)

    @staticmethod
    def _kept_from_failed_files(
        plan: Plan, previous: Snapshot | None, held: Sequence[str], collection: Collection
    ) -> set[str]:
        """The held articles of files that could not be read this time (front matter broken
        mid-edit, a file emptied while it is saved): kept as they were, never dropped for a
        read that failed. A file that is gone, or read with fewer articles, still loses them.

        A JSONL file is read line by line. When the whole file fails, all its articles are
        kept; when some lines fail, as many of its unread articles as lines failed are
        kept, those nearest the failed lines (lines move when one is added above), so a
        line that always fails does not keep every article ever deleted from the file."""
        failed = {p.source for p in collection.problems if p.skipped and not p.note}
        if not failed or previous is None or not held:
            return set()
        bad_lines: dict[str, list[int]] = {}
        for p in collection.problems:
            # A line with no article text (a title alone) never held an article: it keeps none.
            if p.skipped and not p.note and (m := _LINE.match(p.source)) and not p.reason.startswith("no article"):
                bad_lines.setdefault(m.group(1), []).append(int(m.group(2)))
        read = {d.id for d in collection.documents}
        candidates = [i for i in held if i not in read]
        kept: set[str] = set()
        by_line: dict[str, list[tuple[int, str]]] = {}
        for doc in previous.documents(candidates) if candidates else ():
            m = _LINE.match(doc.source)
            if (m is None and doc.source in failed) or (m is not None and m.group(1) in failed):
                kept.add(doc.id)  # the file itself failed (a line's own failure: below)
            elif m is not None and m.group(1) in bad_lines:
                by_line.setdefault(m.group(1), []).append((int(m.group(2)), doc.id))
        for name, lines in by_line.items():
            for line in bad_lines[name]:
                if lines:
                    nearest = min(lines, key=lambda item: (abs(item[0] - line), item[0]))
                    lines.remove(nearest)
                    kept.add(nearest[1])
        by_file: dict[str, int] = {}
        for doc in previous.documents(kept) if kept else ():
            m = _LINE.match(doc.source)
            name = m.group(1) if m else doc.source
            by_file[name] = by_file.get(name, 0) + 1
        for name, n in sorted(by_file.items()):
            what = "article" if n == 1 else "articles"
            plan.problems.append(Problem(name, f"could not be read this time; its {n} indexed {what} kept", False))
        return kept

    def _remove(
        self,
        plan: Plan,
        removing: set[str],
        registry: list[Source],
        index: dict[str, tuple[str, str, int]],
        previous: Snapshot | None,
    ) -> list[Source]:
        """Drop the ``removing`` sources; the registry after it. Their articles go, except
        those a remaining source also holds (``Source.also``): each is written again under
        that source (its stored vectors re-used), so `remove` changes only what it names."""
        remaining = [s for s in registry if s.key not in removing]
        heirs: dict[str, str] = {}
        for source in remaining:
            for doc_id in source.also:
                heirs.setdefault(doc_id, source.key)
        handed: set[str] = set()
        for source in [s for s in registry if s.key in removing]:
            owned = [doc_id for doc_id, (_, origin, _) in index.items() if origin == source.key]
            kept = [doc_id for doc_id in owned if doc_id in heirs]
            plan.deletions |= set(owned)  # the kept ones are re-added below under their new source
            if kept and previous is not None:
                docs = previous.documents(kept)
                plan.documents += docs
                plan.origins += [heirs[d.id] for d in docs]
                for doc_id in kept:
                    content, _, n = index[doc_id]
                    index[doc_id] = (content, heirs[doc_id], n)
                handed |= set(kept)
            plan.removed += len(owned) - len(kept)
            plan.reports.append(
                SourceReport(source.key, source.kind, "removed", removed=len(owned) - len(kept), kept=len(kept))
            )
        return [
            dataclasses.replace(s, also=tuple(x for x in s.also if x not in handed)) if set(s.also) & handed else s
            for s in remaining
        ]

    @contextlib.contextmanager
    def _web_session(self) -> Iterator[None]:
        """Web sources share one fetcher per sync; it is closed however the sync ends."""
        try:
            yield
        finally:
            if self._fetcher is not None:
                self._fetcher.close()
                self._fetcher = None
            self._budget = None

    def _web_fetcher(self):
        from retrieval.ingest.web.fetch import Fetcher, FetchSettings, HttpCache
        from retrieval.ingest.web.source import SyncBudget

        if self._fetcher is None:
            web = self.config.web
            settings = FetchSettings(
                timeout=web.timeout_seconds,
                max_bytes=int(web.max_megabytes * 1_000_000),
                max_redirects=web.max_redirects,
                host_delay=web.host_delay_seconds,
                concurrency=web.concurrency,
                public_only=self.public_web_only,
            )
            self._fetcher = Fetcher(settings, HttpCache.load(self.store.path))
            self._budget = SyncBudget.start(web.sync_budget_seconds)
        return self._fetcher

    def _sync_web(
        self,
        source: Source,
        plan: Plan,
        previous: Snapshot | None,
        index: dict[str, tuple[str, str, int]],
        registry: list[Source],
        keys: list[str],
        state: dict[str, SourceState],
        rebuild: bool,
        progress: IndexProgress,
    ) -> tuple[list[Source], dict[str, SourceState]]:
        """Fetch a page, feed or sitemap and compare its articles with what the index holds.
        Articles a feed no longer lists stay: a desk keeps yesterday's news."""
        from retrieval.ingest.web.fetch import FetchError
        from retrieval.ingest.web.source import read_web_source

        held = {doc_id for doc_id, (_, origin, _) in index.items() if origin == source.key}
        fetcher = self._web_fetcher()
        if self._budget is not None and self._budget.spent():
            # Not started: it is read at the next sync; a new one is not registered yet.
            status = "deferred" if source.key in keys else "unreadable"
            plan.reports.append(SourceReport(source.key, source.kind, status, len(held), reason=self._budget.reason))
            if rebuild and previous is not None:
                self._keep_stored(plan, previous, source.key)
            registry = registry if source.key in keys else [s for s in registry if s.key != source.key]
            return registry, state
        try:
            read = read_web_source(
                source.key,
                fetcher,
                Cleaner(self.config.clean),
                index.keys(),  # a 304 is trusted for what the index holds, whichever source holds it
                self.config.web.feed_items,
                progress.reading,
                self._budget,
                _stored_by_id(previous, index),
            )
        except FetchError as exc:
            if source.key not in keys:  # a new address that cannot be read is not registered
                plan.reports.append(SourceReport(source.key, "page", "unreadable", reason=exc.reason))
                return [s for s in registry if s.key != source.key], state
            plan.reports.append(SourceReport(source.key, source.kind, "unreadable", len(held), reason=exc.reason))
            if rebuild and previous is not None:
                self._keep_stored(plan, previous, source.key)
            return registry, with_sync(state, source.key, exc.reason)
        if source.key in keys and source.kind in ("feed", "sitemap") and read.kind == "page":
            # A feed that answers with a web page (a maintenance notice, a login wall, an
            # error page sent as 200) has failed: the notice is no article, and the source
            # stays a feed for when it comes back.
            reason = f"answered with a web page, not its {source.kind}"
            fetcher.cache.entries.pop(source.key, None)  # no validator of the notice: read it whole next time
            plan.reports.append(SourceReport(source.key, source.kind, "unreadable", len(held), reason=reason))
            if rebuild and previous is not None:
                self._keep_stored(plan, previous, source.key)
            return registry, with_sync(state, source.key, reason)
        if read.kind != source.kind:
            registry = [dataclasses.replace(s, kind=read.kind) if s.key == source.key else s for s in registry]
        plan.files_read += read.fetched
        plan.problems += read.problems
        unchanged = held if read.all_unchanged else read.unchanged & held
        status = "added" if source.key not in keys else "synced"
        collection = Collection(tuple(read.documents), tuple(read.problems), read.fetched, 0)
        self._apply(
            plan, None if rebuild else previous, source.key, read.kind, collection, index, status, False, unchanged
        )
        if read.listed is not None:
            plan.reports[-1] = dataclasses.replace(plan.reports[-1], listed=read.listed)
        self._also_unchanged(plan, source.key, read.unchanged - held, index, registry)
        return registry, with_sync(state, source.key, None)

    @staticmethod
    def _also_unchanged(
        plan: Plan, key: str, ids: set[str], index: dict[str, tuple[str, str, int]], registry: list[Source]
    ) -> None:
        """Items that answered 304 and are held by another source (a story a feed and a
        sitemap both list) are shared, as if read again: `remove` of the other hands them
        over. Said once, when first shared."""
        owners: dict[str, list[str]] = {}
        for doc_id in ids:
            if doc_id in index and index[doc_id][1] != key:
                owners.setdefault(index[doc_id][1], []).append(doc_id)
        if not owners:
            return
        known = set(next((s.also for s in registry if s.key == key), ()))
        plan.also.setdefault(key, (set(), False))[0].update(i for shared in owners.values() for i in shared)
        for owner, shared in sorted(owners.items()):
            new = len(set(shared) - known)
            if new:
                plan.problems.append(
                    Problem(key, f"{new} of its articles are already held by {owner}; indexed once", False)
                )

    def _keep_stored(self, plan: Plan, previous: Snapshot, key: str) -> None:
        """On a rebuild, the articles of a source that cannot be read come from the index
        (those another source already holds in this run are written once, by it)."""
        claimed = {d.id for d in plan.documents}
        ids = [i for i, (_, origin, _) in previous.document_index().items() if origin == key and i not in claimed]
        plan.documents += previous.documents(ids)
        plan.origins += [key] * len(ids)

    def _apply(
        self,
        plan: Plan,
        previous: Snapshot | None,
        key: str,
        kind: str,
        collection: Collection,
        index: dict[str, tuple[str, str, int]],
        status: str = "synced",
        prune: bool = True,
        unchanged_ids: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """Compare what ``key`` holds now with what the index holds from it. ``prune``:
        articles no longer in the source are removed. ``unchanged_ids``: held articles the
        source says are unchanged without sending them (HTTP 304)."""
        held = {doc_id: h for doc_id, (h, origin, _) in index.items() if origin == key}
        claimed = {d.id for d in plan.documents}
        added = updated = unchanged = 0
        seen: set[str] = set()
        for doc in collection.documents:
            owner = index.get(doc.id, (None, key, 0))[1]
            if doc.id in seen:  # two records of this source under one id: the first is kept
                plan.merged += 1
                plan.problems.append(Problem(doc.source, "same article as another of this source; indexed once", False))
                continue
            if owner != key or doc.id in claimed:
                plan.merged += 1
                plan.also.setdefault(key, (set(), prune))[0].add(doc.id)
                other = owner if owner != key else "another source"
                plan.problems.append(Problem(doc.source, f"same article as one from {other}; indexed once", False))
                continue
            seen.add(doc.id)
            if doc.id not in held:
                added += 1
            elif held[doc.id] != doc.content_hash:
                updated += 1
                plan.deletions.add(doc.id)
            else:
                unchanged += 1
                continue
            if doc.published is not None and in_future(doc.published):  # said once, when it comes in
                day = doc.published.date().isoformat()
                plan.problems.append(Problem(doc.source, f"dated {day}, after today: not shown before that day", False))
            plan.documents.append(doc)
            plan.origins.append(key)
        kept = (set(unchanged_ids) & set(held)) - seen
        unchanged += len(kept)
        seen |= kept
        gone = set(held) - seen if prune else set()
        if not prune:
            seen |= set(held)
        plan.deletions |= gone
        plan.added += added
        plan.updated += updated
        plan.unchanged += unchanged
        plan.removed += len(gone)
        plan.also.setdefault(key, (set(), prune))  # read: a source re-read whole now shares nothing else
        plan.reports.append(SourceReport(key, kind, status, len(seen), added, updated, len(gone), unchanged))

    # ------------------------------------------------------------------ writing

    def _write(
        self,
        previous: Snapshot | None,
        plan: Plan,
        registry: list[Source],
        state: dict[str, SourceState],
        progress: IndexProgress,
        started: float,
        action: str,
        force: bool,
        registry_changed: bool = True,
    ) -> IndexReport:

        changed = bool(plan.documents or plan.deletions or force or registry_changed or previous is None)
        if not changed and previous is not None:
            if state:
                write_state(self.store.path, state)
            return self._report(previous, plan, written=False, started=started)
        data, embedded, sentences_embedded = self._segment(previous, plan, progress, reuse=not force)
        settings = {**self.settings(), "lexical": self._lexical(previous, force), "action": action}
        change = Change(
            new=data,
            deletions=plan.deletions,
            sources=[s.to_json() for s in registry],
            action=action,
            replace_all=force,
        )
        held = previous.document_index() if previous is not None else {}
        new_ids = tuple(d.id for d in plan.documents if d.id not in held)
        snap = self.store.commit(previous, change, settings)
        write_state(self.store.path, state)
        report = self._report(snap, plan, True, started, embedded, sentences_embedded)
        return dataclasses.replace(report, new_ids=new_ids)

    def _segment(
        self, previous: Snapshot | None, plan: Plan, progress: IndexProgress, reuse: bool
    ) -> tuple[SegmentData | None, int, int]:
        """Chunk and embed the plan's documents, re-using stored vectors of unchanged text
        (``reuse``: the previous generation was made by the same model)."""

        if not plan.documents:
            return None, 0, 0
        reusable = (
            reuse
            and previous is not None
            and previous.model_id == self.embedder.model_id
            and previous.dimension == self.embedder.dimension
        )
        stored = previous.stored_records([d.id for d in plan.documents]) if previous is not None and reusable else {}
        old_chunks: dict[str, tuple[int, int]] = {}  # embed hash -> (segment, local row)
        old_sentences: dict[str, tuple[int, int]] = {}
        for seg, chunk_records, sentence_records in stored.values():
            for row, rec in chunk_records:
                old_chunks.setdefault(rec.embed_hash, (seg, row))
            for row, rec in sentence_records:
                old_sentences.setdefault(rec.hash, (seg, row))
        # Chunking is a pure function of the documents and settings: an engine that has a
        # cluster (Ray) runs it there; otherwise it runs here.
        chunk_settings = ChunkSettings(
            self.config.chunking.max_tokens,
            self.config.chunking.overlap_sentences,
            self.config.chunking.embed_title,
            self.config.index.sentence_vectors,
        )
        mapper = getattr(self.embedder, "chunk_documents", None)
        if mapper is not None:
            chunked = mapper(plan.documents, chunk_settings)
        else:
            chunked = [chunk_one(doc, chunk_settings, self.embedder.count_tokens) for doc in plan.documents]
        records: list[ChunkRecord] = []
        texts: list[str] = []
        chunk_sources: list[tuple[int, int] | int] = []
        to_embed: list[str] = []
        # Every sentence gets a vector too: at question time they pick the passage shown and
        # the answer sentence without running the model again (that costs ~0.2 s a question
        # on two cores). Vectors are reused by text hash like the chunks'.
        sentences: list[SentenceRecord] = []
        sentence_sources: list[tuple[int, int] | int] = []
        sentence_embed: list[str] = []
        for doc_chunks, doc_texts, doc_sentences, sentence_texts in chunked:
            texts += doc_texts
            records += doc_chunks
            sentences += doc_sentences
            for record, text in zip(doc_chunks, doc_texts, strict=True):
                chunk_sources.append(_reuse_or_embed(record.embed_hash, text, old_chunks, to_embed))
            for record, text in zip(doc_sentences, sentence_texts, strict=True):
                sentence_sources.append(_reuse_or_embed(record.hash, text, old_sentences, sentence_embed))
        if (to_embed or sentence_embed) and getattr(self.embedder, "loaded", True) is False:
            preparing(progress)  # the model loads on the first embed: seconds with nothing moving
        progress.embedding(len(to_embed) + len(sentence_embed))
        # One call, so passages and sentences are batched together by length.
        fresh = self.embedder.embed(
            to_embed + sentence_embed, self.config.embedding.batch_size, progress=progress.embedded
        )
        dim = self.embedder.dimension
        vectors = _assemble(previous, chunk_sources, fresh[: len(to_embed)], dim, sentences=False)
        sentence_vectors = _assemble(previous, sentence_sources, fresh[len(to_embed) :], dim, sentences=True)
        data = SegmentData(plan.documents, plan.origins, records, vectors, texts, sentences, sentence_vectors)
        return data, len(to_embed), len(sentence_embed)

    def _report(
        self,
        snap: Snapshot,
        plan: Plan,
        written: bool,
        started: float,
        embedded: int = 0,
        sentences_embedded: int = 0,
    ) -> IndexReport:
        held: dict[str, int] = {}
        for _, origin, _ in snap.document_index().values():
            held[origin] = held.get(origin, 0) + 1
        reports = tuple(
            r if r.status in ("removed",) else SourceReport(**{**r.__dict__, "articles": held.get(r.key, 0)})
            for r in plan.reports
        )
        return IndexReport(
            index_dir=self.store.path,
            documents=int(snap.manifest.get("documents", 0)),
            chunks=snap.chunk_count,
            added=plan.added,
            updated=plan.updated,
            removed=plan.removed,
            unchanged=plan.unchanged,
            chunks_embedded=embedded,
            files_read=plan.files_read,
            merged=plan.merged,
            problems=tuple(plan.problems),
            written=written,
            seconds=time.perf_counter() - started,
            sentences_embedded=sentences_embedded,
            sources=reports,
            segments=snap.segment_count,
            where=self.store.where,
        )

    # ------------------------------------------------------------------ maintenance

    def compact(self) -> tuple[int, int]:
        """Merge every segment into one; returns (segments before, after)."""
        with self.store.writer_lock():
            previous = self._previous()
            if previous is None:
                raise SourcedError(f"No index at {self.store.where} yet. Run `sourced index` to build one.")
            before = previous.segment_count
            snap = self.store.compact(previous, {**self.settings(), **_kept(previous)})
            return before, snap.segment_count

    def rollback(self) -> tuple[str, str]:
        with self.store.writer_lock():
            return self.store.rollback()


def _reuse_or_embed(key: str, text: str, stored: dict[str, tuple[int, int]], to_embed: list[str]):
    """The stored vector's reference for a text already embedded, else its place in ``to_embed``."""
    if key in stored:
        return stored[key]
    to_embed.append(text)
    return len(to_embed) - 1


_LINE = re.compile(r"^(.*) line (\d+)$")  # "feed.jsonl line 3": an article read from a line


def _assemble(previous, sources: Sequence[tuple[int, int] | int], fresh, dim: int, sentences: bool):
    """One vector per item: re-used from the previous generation (a (segment, row)
    reference, read in one batch) or freshly embedded (an index into ``fresh``)."""
    import numpy as np

    out = np.empty((len(sources), dim), dtype=np.float32)
    reused = [i for i, src in enumerate(sources) if isinstance(src, tuple)]
    if reused:
        out[reused] = previous.stored_vectors([sources[i] for i in reused], sentences=sentences)
    for i, src in enumerate(sources):
        if not isinstance(src, tuple):
            out[i] = fresh[src]
    return out


def _kept(snap: Snapshot) -> dict[str, object]:
    """Settings of the live generation a compaction must keep as they are."""
    keys = ("model_id", "dimension", "chunking", "index_kind", "lexical", "sentence_vectors")
    return {k: snap.manifest[k] for k in keys if k in snap.manifest}


def _stored_by_id(previous: Snapshot | None, index: dict[str, tuple[str, str, int]]):
    """The article the index holds under an id, or None (what a web read compares with).
    ``index``: the ids it holds, so that a new item costs no read."""
    if previous is None:
        return None

    def stored(doc_id: str) -> Document | None:
        if index and doc_id not in index:  # (a rebuild has no index of ids: it reads)
            return None
        found = previous.documents([doc_id])
        return found[0] if found else None

    return stored
