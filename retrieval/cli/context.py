"""What every command shares: the loaded config (with --collection and --store applied), exit
codes, and the library's wiring (``retrieval.wiring``) with the terminal's progress and messages."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from retrieval.cli.progress import progress_bars
from retrieval.cli.render import console, print_report
from retrieval.config import Config, load_config
from retrieval.wiring import check_choices, make_indexer, with_choices

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

    def reset(self) -> None:
        """Forget the loaded config (an option after the command changed what it is made of)."""
        self._config = None

    @property
    def config(self) -> Config:
        if self._config is None:
            config = with_choices(load_config(self.config_path), self.collection, self.store)
            check_choices(config)  # every name a setting gives, by the registry that knows it
            self._config = config
        return self._config


def open_service(config: Config, index_dir: Path | None, build_if_missing: bool = True):
    """The query service, built or upgraded on first use with the terminal's bars and messages."""
    from retrieval.wiring import open_service as wired

    return wired(config, index_dir, build_if_missing, say=console().print, sync=lambda c, f: run_index(c, f, ()))


def run_index(config: Config, index_dir: Path, paths: Sequence[Path], rebuild: bool = False):
    """`sourced index` with progress bars and the report printed."""
    indexer = make_indexer(config, index_dir)
    with progress_bars() as bars:
        report = indexer.run(paths, progress=bars, rebuild=rebuild)
    print_report(report)
    return report
