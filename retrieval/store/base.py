"""The store contract: what the indexer, the query service, `doctor` and the benchmarks may
call on a store and on the snapshot it opens, and the one place a store is chosen.

Two stores implement it: ``folder/`` (immutable segments in a folder) and ``postgres/``
(a schema per collection). A third store registers a factory in :data:`STORES` and runs
the contract tests in ``retrieval.store.testing`` (as Haystack's ``haystack/testing``
mixins do for document stores); nothing else in sourced names a store class.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from retrieval.errors import ConfigError
from retrieval.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from retrieval.config import Config
    from retrieval.store.lexical import CollectionBM25
    from retrieval.store.records import Change, ChunkRecord, SentenceRecord
    from retrieval.types import Chunk, Document


@dataclass(frozen=True)
class HealthReport:
    """What `sourced doctor` found: facts about the live generation, and any problems."""

    facts: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@runtime_checkable
class Snapshot(Protocol):
    """One immutable generation of an index, searched from many threads at once.

    Rows are numbered across the whole generation; deleted rows are never returned.
    """

    manifest: dict[str, Any]

    # what the manifest says (``records.ManifestFacts`` gives these to both stores)
    @property
    def model_id(self) -> str: ...
    @property
    def dimension(self) -> int: ...
    @property
    def chunk_count(self) -> int: ...
    @property
    def sources(self) -> list[dict[str, Any]]: ...
    @property
    def current_format(self) -> bool: ...
    @property
    def generation(self) -> str: ...
    @property
    def segment_count(self) -> int: ...

    # the query service
    @property
    def lexical(self) -> CollectionBM25: ...
    def search(self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]: ...
    def vectors(self, rows: Sequence[int]) -> np.ndarray: ...
    def sentence_vectors(self, rows: Sequence[int]) -> np.ndarray: ...
    def chunks(self, rows: Sequence[int]) -> dict[int, tuple[Chunk, Document]]: ...
    def chunk_refs(self, rows: Sequence[int]) -> dict[int, tuple[str, int, int, int]]: ...
    def documents(self, ids: Iterable[str] | None = None) -> list[Document]: ...
    def document_index(self) -> dict[str, tuple[str, str, int]]: ...
    def rows_where(self, since: str | None, until: str | None, outlet: str | None, source: str | None) -> Any: ...
    def sentences_in(self, spans: Sequence[tuple[int, str, int, int]]) -> Any: ...
    def signatures(self, doc_ids: Iterable[str]) -> Any: ...

    # the indexer (reusing what is stored) and the benchmarks
    def rows_of_documents(self, doc_ids: Iterable[str]) -> Any: ...
    def stored_records(self, doc_ids: Iterable[str]) -> dict[str, tuple[int, list, list]]: ...
    def stored_vectors(self, refs: Sequence[tuple[int, int]], sentences: bool = False) -> np.ndarray: ...
    def chunk_records(self) -> dict[str, list[tuple[int, ChunkRecord]]]: ...
    def sentence_records(self) -> list[tuple[int, SentenceRecord]]: ...
    def embeddings(self) -> np.ndarray: ...
    def close(self) -> None: ...


@runtime_checkable
class Store(Protocol):
    """Where a collection's generations live: open the live one, write new ones atomically
    under one writer lock, roll back, compact, and check itself."""

    kind: str  # the STORES name: "folder", "postgresql"

    @property
    def where(self) -> str:
        """Where it is, for messages: a folder, or a database URL without its password."""
        ...

    def current_name(self) -> str | None: ...
    def exists(self) -> bool: ...
    def open(self, check_version: bool = True) -> Snapshot: ...
    def generations(self) -> list[str]: ...
    def open_generation(self, name: str) -> Snapshot:
        """A kept generation (one of :meth:`generations`), live or not, read as it was: what
        `sourced history` compares. Any format; not for answering questions."""
        ...

    def writer_lock(self, wait_seconds: float = 0.0) -> contextlib.AbstractContextManager[None]: ...
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
    ) -> Snapshot: ...
    def commit(self, previous: Snapshot | None, change: Change, settings: dict[str, Any]) -> Snapshot: ...
    def compact(self, previous: Snapshot, settings: dict[str, Any]) -> Snapshot: ...
    def rollback(self) -> tuple[str, str]: ...
    def check(self) -> HealthReport:
        """`sourced doctor`: does the live generation agree with what it lists?"""
        ...


# (config, folder, reading, namespace) -> Store. ``folder`` is the collection's folder
# (the whole index for the folder store, the sync state for a database); ``reading``: for
# questions only, so a read replica may serve them; ``namespace``: a name of its own inside
# a shared server (a benchmark's corpus), instead of the collection's.
StoreFactory = Callable[["Config", Path, bool, "str | None"], Store]
STORES: Registry[StoreFactory] = Registry("store")


def store_kind(url: str | None, what: str = "index.store") -> str:
    """The STORES name for an ``index.store`` value: '' is the folder store, a URL names its
    store by scheme. Anything else is one line naming ``what`` and the accepted forms."""
    if not url:
        return "folder"
    scheme = str(url).split("://", 1)[0].lower() if "://" in str(url) else ""
    kind = {"postgresql": "postgresql", "postgres": "postgresql"}.get(scheme)
    if kind is None:
        raise ConfigError(f"{what} {url!r} is not a PostgreSQL URL (postgresql://user@host:port/db).")
    return kind


def store_for(config: Config, folder: Path, reading: bool = False, namespace: str | None = None) -> Store:
    """The store ``config`` names (``index.store``), for the collection at ``folder``."""
    _load_builtin_stores()
    return STORES.get(store_kind(config.index.store))(config, Path(folder), reading, namespace)


def check_index(store: Store) -> HealthReport:
    """`sourced doctor` over any store."""
    return store.check()


def _load_builtin_stores() -> None:
    # The built-in factories register themselves on import; importing them here (not at
    # module level) keeps `retrieval.store` cheap and free of a cycle with its subpackages.
    import retrieval.store.folder
    import retrieval.store.postgres  # noqa: F401
