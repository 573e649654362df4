"""What every command shares: the loaded config, the index folder rules, the query service."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from retrieval.cli.progress import progress_bars
from retrieval.cli.render import console, print_report
from retrieval.config import ENV_INDEX_DIR, Config, load_config, resolve_path
from retrieval.errors import IndexMissingError

EXIT_ERROR = 1
EXIT_NOTHING_READ = 2
EXIT_SKIPPED = 3
EXIT_INTERRUPTED = 130


def fail(message: str) -> None:
    """One line on stderr and exit 1: how every command reports a problem."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


class CliContext:
    """Loads config and heavy collaborators once, when a command first needs them."""

    def __init__(self, config_path: Path | None, collection: str | None = None, store: str | None = None) -> None:
        self.config_path = config_path
        self.collection = collection
        self.store = store
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            config = load_config(self.config_path)
            if self.collection:
                from retrieval.collections import check_name

                config = dataclasses.replace(config, collection=check_name(self.collection))
            if self.store:
                from retrieval.config import ConfigError

                if not self.store.startswith(("postgresql://", "postgres://")):
                    raise ConfigError(
                        f"--store {self.store!r} is not a PostgreSQL URL (postgresql://user@host:port/db)."
                    )
                config = dataclasses.replace(config, index=dataclasses.replace(config.index, store=self.store))
            self._config = config
        return self._config


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
    from retrieval.collections import collection_dir

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


def open_service(config: Config, index_dir: Path | None, build_if_missing: bool = True):
    from retrieval.embedding import configured_embedder
    from retrieval.service import QueryService
    from retrieval.store import store_for

    folder, chosen = resolve_index_dir(config, index_dir)
    store = store_for(config, folder, reading=True)
    embedder = None
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
        console().print("No index yet: building one from the collection first (this happens once).")
        run_index(config, folder, ())
    elif build_if_missing:
        snap = store.open(check_version=False)
        try:
            current = snap.current_format
            built_with = snap.model_id if current else None  # an older manifest may not say
        finally:
            snap.close()
        if not current:
            # Written by an earlier version of sourced: upgrade it once, keeping its sources.
            console().print("The index was written by an earlier version of sourced: updating it (this happens once).")
            run_index(config, folder, ())
        elif not chosen and built_with != (embedder := configured_embedder(config.embedding)).model_id:
            # The default index, built by an earlier default model: re-embed it once. An
            # index the user chose is theirs to rebuild (the query service says how).
            console().print(
                f"The index was built with {built_with}; re-embedding it with {embedder.model_id} (this happens once)."
            )
            run_index(config, folder, ())
    return QueryService(store, lambda: embedder or configured_embedder(config.embedding), config.search)


def state_dir(config: Config) -> Path:
    from retrieval.paths import data_dir

    if config.bot.state_dir:
        return resolve_path(config, config.bot.state_dir)
    return data_dir() / "bot"


def make_indexer(config: Config, index_dir: Path, engine: str = "local", ray_address: str | None = None):
    """The indexer of ``index_dir``; ``engine`` 'ray' embeds on a Ray cluster (local if no address)."""
    from retrieval.embedding import configured_embedder
    from retrieval.indexer import Indexer
    from retrieval.store import store_for

    embedder = configured_embedder(config.embedding)
    if engine == "ray":
        from retrieval.embedding.distributed import RayEmbedder, check_reachable

        if ray_address:
            check_reachable(ray_address)  # before any file is read
        embedder = RayEmbedder(embedder, config.embedding.model, config.embedding.backend, ray_address)
    return Indexer(config, store_for(config, index_dir), embedder)


def run_index(config: Config, index_dir: Path, paths: Sequence[Path], rebuild: bool = False):
    """`sourced index` with progress bars and the report printed."""
    indexer = make_indexer(config, index_dir)
    with progress_bars() as bars:
        report = indexer.run(paths, progress=bars, rebuild=rebuild)
    print_report(report)
    return report


def bench_cache() -> Path:
    from retrieval.paths import cache_dir

    return cache_dir() / "bench"
