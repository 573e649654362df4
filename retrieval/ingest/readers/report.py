"""What reading produced: documents, and the problems met on the way, in words for a user."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.types import Document


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with one input, in words for a user. ``skipped``: nothing was indexed.
    ``note``: not a problem but worth saying (files of types sourced does not read)."""

    source: str
    reason: str
    skipped: bool = True
    note: bool = False


@dataclass(frozen=True, slots=True)
class Collection:
    """The result of reading: documents (copies of one article merged) and the problems met on the way."""

    documents: tuple[Document, ...]
    problems: tuple[Problem, ...]
    files_read: int
    merged: int

    @property
    def skipped(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.skipped)


class UnreadableError(Exception):
    """Internal: a file cannot be used; the message is the reason shown to the user."""


class LineProblem(str):
    """A line of a streamed file that could not be used; the text is the reason."""
