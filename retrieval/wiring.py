"""The one place a collection is put together: config -> index folder -> store -> query
service and indexer.

Every way in calls this: the CLI, the bot, the benchmarks and the measurement scripts.
None of them picks a folder, a store or an embedder on its own, so they cannot disagree
about which index a question is answered from. Adapters pass in how they show what
happens while a collection is opened (a line of text, a progress display); nothing here
prints.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.config import ENV_INDEX_DIR, Config, resolve_path
from retrieval.errors import ConfigError, IndexMissingError

if TYPE_CHECKING:
    from retrieval.ingest.indexer import Indexer
    from retrieval.ingest.report import IndexReport
    from retrieval.query.service import QueryService
    from retrieval.store import Store

Say = Callable[[str], None]
# Runs a sync of the collection at a folder (the adapter's progress display, its report).
Sync = Callable[[Config, Path], "IndexReport"]


def _quiet(_message: str) -> None:
    pass


def with_choices(config: Config, collection: str | None = None, store: str | None = None) -> Config:
    """``config`` with a collection and a store chosen for this run (``--collection``,
    ``--store``), each checked by the table that knows its names."""
    if collection:
        from retrieval.desk.collections import check_name

        config = dataclasses.replace(config, collection=check_name(collection))
    if store:
        from retrieval.store import store_kind

        store_kind(store, what="--store")
        config = dataclasses.replace(config, index=dataclasses.replace(config.index, store=store))
    return config


def check_choices(config: Config) -> None:
    """Every setting that names a registered choice, checked against its registry.

    Config checks shapes when it is loaded; names are checked here, when a collection is
    opened, by the registries themselves, so config imports none of them.
    """
    from retrieval.desk.collections import CollectionNameError, check_name
    from retrieval.embedding import BACKENDS
    from retrieval.query.ranking import FUSIONS, MODES
    from retrieval.store import store_kind
    from retrieval.store.folder.vectors import VECTOR_KINDS

    for key in ("store", "read_store"):
        store_kind(getattr(config.index, key), what=f"Setting 'index.{key}'")
    if config.index.kind not in ("auto", *VECTOR_KINDS):
        raise ConfigError(f"Setting 'index.kind' must be 'auto' or one of {', '.join(VECTOR_KINDS)}.")
    if config.embedding.backend not in BACKENDS:
        raise ConfigError(f"Setting 'embedding.backend' must be one of {', '.join(BACKENDS)}.")
    if config.search.mode not in MODES:
        raise ConfigError(f"Setting 'search.mode' must be one of {', '.join(MODES)}.")
    if config.search.fusion not in FUSIONS:
        raise ConfigError(f"Setting 'search.fusion' must be one of {', '.join(FUSIONS)}.")
    for where, name in config.bot.collections.items():
        try:
            check_name(name)
        except CollectionNameError as exc:
            raise ConfigError(f"Setting 'bot.collections.{where}': {exc}") from None


# ---------------------------------------------------------------------- where the index is


def default_index_dir(config: Config) -> tuple[Path, bool]:
    """(the default collection's index folder, whether the user chose it): env, config, default."""
    if os.environ.get(ENV_INDEX_DIR):
        return Path(os.environ[ENV_INDEX_DIR]).expanduser(), True
    if config.index.dir:
        return resolve_path(config, config.index.dir), True
    from retrieval.paths import data_dir

    return data_dir() / "index", False


def collection_index_dir(config: Config, name: str) -> Path:
    """The index folder of collection ``name`` under these settings."""
    from retrieval.desk.collections import collection_dir

    default, _ = default_index_dir(config)
    configured = resolve_path(config, config.index.collections_dir) if config.index.collections_dir else None
    return collection_dir(name, default, configured)


def resolve_index_dir(config: Config, option: Path | None) -> tuple[Path, bool]:
    """(index folder, whether the user chose it) by precedence: option, the collection
    chosen with --collection, env, config, default."""
    if option is not None:
        return option.expanduser(), True
    if config.collection != "default":
        return collection_index_dir(config, config.collection), True
    return default_index_dir(config)


def state_dir(config: Config) -> Path:
    """Where the bot keeps its feedback log."""
    from retrieval.paths import data_dir

    if config.bot.state_dir:
        return resolve_path(config, config.bot.state_dir)
    return data_dir() / "bot"


def bench_cache() -> Path:
    """Where benchmarks keep the indexes they build (reused while the corpus is unchanged)."""
    from retrieval.paths import cache_dir

    return cache_dir() / "bench"


# ---------------------------------------------------------------------- the pieces


def open_store(config: Config, folder: Path, reading: bool = False, namespace: str | None = None) -> Store:
    """The store of the collection at ``folder`` (see ``retrieval.store.base.STORES``);
    ``namespace``: a space of its own in a shared server (a benchmark's corpus)."""
    from retrieval.store import store_for

    return store_for(config, folder, reading=reading, namespace=namespace)


def make_indexer(
    config: Config,
    index_dir: Path,
    engine: str = "local",
    ray_address: str | None = None,
    public_web_only: bool = False,
    embedder=None,
) -> Indexer:
    """The indexer of ``index_dir``; ``engine`` 'ray' embeds on a Ray cluster (local if no address)."""
    from retrieval.embedding import configured_embedder
    from retrieval.ingest.indexer import Indexer

    embedder = embedder or configured_embedder(config.embedding)
    if engine == "ray":
        from retrieval.embedding.distributed import RayEmbedder, check_reachable

        if ray_address:
            check_reachable(ray_address)  # before any file is read
        embedder = RayEmbedder(embedder, config.embedding.model, config.embedding.backend, ray_address)
    return Indexer(config, open_store(config, index_dir), embedder, public_web_only=public_web_only)


def plain_sync(config: Config, folder: Path) -> IndexReport:
    """A sync with nothing shown (an adapter passes its own, with progress)."""
    return make_indexer(config, folder).run(())


def open_service(
    config: Config,
    index_dir: Path | None = None,
    build_if_missing: bool = True,
    say: Say = _quiet,
    sync: Sync = plain_sync,
    embedder: Callable[[], object] | None = None,
) -> QueryService:
    """The query service of the collection ``config`` names (or of ``index_dir``).

    The default collection's index is built on first use, upgraded once when an earlier
    version wrote it, and re-embedded once when an earlier default model built it; ``say``
    tells the user which of these is happening, ``sync`` runs it. An index the user chose
    is theirs: a missing one is an error that says what to run. ``embedder``: a shared
    model's factory (default: the configured model, loaded when first needed).
    """
    from retrieval.embedding import configured_embedder
    from retrieval.query.service import QueryService

    check_choices(config)
    folder, chosen = resolve_index_dir(config, index_dir)
    store = open_store(config, folder, reading=True)
    load = embedder or (lambda: configured_embedder(config.embedding))
    loaded = None
    if config.index.store:
        chosen = True  # the database is the user's: only the default folder is built on first use
    if not store.exists():
        if config.index.store:
            raise IndexMissingError(f"No index in {store.where} yet. Build it with `sourced index`.")
        if index_dir is None and config.collection != "default":
            raise IndexMissingError(
                f"No collection '{config.collection}' yet. Create it with "
                f"`sourced --collection {config.collection} add SOURCE`."
            )
        if chosen and not folder.is_dir():
            raise IndexMissingError(
                f"The index folder {folder} does not exist. Build it with `sourced index --index-dir {folder} PATH`."
            )
        if chosen:
            # Only the default index is built on first use; a chosen folder is the user's to fill.
            raise IndexMissingError(
                f"No index in {folder} yet. Build it with `sourced index --index-dir {folder} PATH`."
            )
        if not build_if_missing:
            raise IndexMissingError(f"No index at {folder} yet. Run `sourced index` to build one.")
        say("No index yet: building one from the collection first (this happens once).")
        _first_build(config, folder, store, say, sync)
    elif build_if_missing:
        snap = store.open(check_version=False)
        try:
            current = snap.current_format
            built_with = snap.model_id if current else None  # an older manifest may not say
        finally:
            snap.close()
        if not current:
            # Written by an earlier version of sourced: upgrade it once, keeping its sources.
            say("The index was written by an earlier version of sourced: updating it (this happens once).")
            sync(config, folder)
        elif not chosen and built_with != (loaded := load()).model_id:
            # The default index, built by an earlier default model: re-embed it once. An
            # index the user chose is theirs to rebuild (the query service says how).
            say(f"The index was built with {built_with}; re-embedding it with {loaded.model_id} (this happens once).")
            sync(config, folder)
    return QueryService(store, lambda: loaded or load(), config.search)


# How long a first question waits for another process building the same first index
# (a bot and a terminal started together) before saying it is busy.
FIRST_BUILD_WAIT_SECONDS = 600.0


def _first_build(config: Config, folder: Path, store, say: Say, sync: Sync) -> None:
    """Build the default index on first use; when another process is building it already,
    wait for that build and use it (building again only if it left no index)."""
    from retrieval.errors import IndexBusyError
    from retrieval.store.folder.lock import writer_lock

    try:
        sync(config, folder)
        return
    except IndexBusyError:
        pass
    say("Another sourced process is building the index: waiting for it to finish.")
    with writer_lock(folder, wait_seconds=FIRST_BUILD_WAIT_SECONDS):
        pass
    if not store.exists():
        sync(config, folder)


@dataclass
class OpenCollection:
    """One collection, put together: where it is, its store, its query service, and a
    fresh :class:`Indexer` over it on each call of ``indexer()``."""

    name: str
    folder: Path
    service: QueryService
    indexer: Callable[[], Indexer]

    @property
    def store(self) -> Store:
        return self.service.store


def open_collection(
    config: Config,
    name: str | None = None,
    index_dir: Path | None = None,
    *,
    build_if_missing: bool = True,
    create: bool = False,
    embedder: Callable[[], object] | None = None,
    public_web_only: bool = False,
    say: Say = _quiet,
    sync: Sync = plain_sync,
) -> OpenCollection:
    """The collection ``name`` (default: the one ``config`` names) as a query service and
    an indexer. ``create``: a named collection that does not exist yet starts empty (the
    bot's /add fills it) instead of being an error. ``embedder``: one shared model for
    several collections (the bot loads it once for every community)."""
    from retrieval.embedding import configured_embedder
    from retrieval.query.service import QueryService

    if name is not None:
        config = dataclasses.replace(config, collection=name)
    check_choices(config)
    if create and config.collection != "default" and index_dir is None:
        folder, _ = resolve_index_dir(config, None)
        folder.mkdir(parents=True, exist_ok=True)
        load = embedder or (lambda: configured_embedder(config.embedding))
        service = QueryService(open_store(config, folder, reading=True), load, config.search)
    else:
        service = open_service(config, index_dir, build_if_missing, say=say, sync=sync, embedder=embedder)
        # The collection's folder (a PostgreSQL store keeps its sync state in a subfolder of it).
        folder, _ = resolve_index_dir(config, index_dir)

    def indexer() -> Indexer:
        return make_indexer(
            config, folder, public_web_only=public_web_only, embedder=embedder() if embedder is not None else None
        )

    return OpenCollection(config.collection, folder, service, indexer)
