"""What an adapter shows while a sync runs: the :class:`IndexProgress` calls the indexer
makes, nothing shown, or short lines of text (the bot's /reindex message). The terminal's
progress bars are the CLI's own (``retrieval.cli.progress``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class IndexProgress(Protocol):
    """What an adapter shows while indexing runs."""

    def reading(self, done: int, total: int) -> None: ...

    def embedding(self, total: int) -> None: ...

    def embedded(self, n: int) -> None: ...


class NoProgress:
    def reading(self, done: int, total: int) -> None:
        pass

    def embedding(self, total: int) -> None:
        pass

    def embedded(self, n: int) -> None:
        pass


class LineProgress:
    """Indexing progress as short lines of text (for the bot's /reindex message)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.total = self.done = 0

    def reading(self, done: int, total: int) -> None:
        self.emit(f"Reading files: {done}/{total}")

    def embedding(self, total: int) -> None:
        self.total, self.done = total, 0
        self.emit(f"Embedding {total} new passages…")

    def embedded(self, n: int) -> None:
        self.done += n
        self.emit(f"Embedding passages: {self.done}/{self.total}")
