"""What an adapter shows while a sync runs: the :class:`IndexProgress` calls the indexer
makes, nothing shown, or short lines of text (the bot's /reindex message). The terminal's
progress bars are the CLI's own (``retrieval.cli.progress``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class IndexProgress(Protocol):
    """What an adapter shows while indexing runs."""

    def reading(self, done: int, total: int) -> None: ...

    def preparing(self) -> None:
        """Before the first passage is embedded: the model is being loaded (seconds, once).
        Optional: the indexer calls it only on adapters that have it."""

    def embedding(self, total: int) -> None: ...

    def embedded(self, n: int) -> None: ...


def preparing(progress: object) -> None:
    """``progress.preparing()`` when the adapter has it (the hook is optional)."""
    hook = getattr(progress, "preparing", None)
    if callable(hook):
        hook()


class NoProgress:
    def reading(self, done: int, total: int) -> None:
        pass

    def preparing(self) -> None:
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

    def preparing(self) -> None:
        self.emit("Loading the embedding model…")

    def embedding(self, total: int) -> None:
        self.total, self.done = total, 0
        self.emit(f"Embedding {total} new passages…")

    def embedded(self, n: int) -> None:
        self.done += n
        self.emit(f"Embedding passages: {self.done}/{self.total}")
