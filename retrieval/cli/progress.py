"""Progress while indexing on a terminal: rich bars on stderr (lines for a chat message are
the library's, ``retrieval.ingest.progress.LineProgress``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from retrieval.cli.render import console


class RichProgress:
    """Progress bars for reading and embedding, on stderr."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.read_task = None
        self.embed_task = None

    def reading(self, done: int, total: int) -> None:
        if self.read_task is None:
            self.read_task = self.progress.add_task("Reading files", total=total)
        self.progress.update(self.read_task, completed=done, total=total)

    def preparing(self) -> None:
        # A line above the bars, while the model loads (about 7 s on a first run).
        self.progress.console.print("Loading the embedding model…")

    def embedding(self, total: int) -> None:
        self.embed_task = self.progress.add_task("Embedding chunks", total=total)

    def embedded(self, n: int) -> None:
        if self.embed_task is not None:
            self.progress.advance(self.embed_task, n)


@contextmanager
def progress_bars() -> Iterator[RichProgress]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description:<17}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(),
        transient=False,
    ) as progress:
        yield RichProgress(progress)
