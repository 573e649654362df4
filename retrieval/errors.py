"""Exceptions raised by the library.

Every message is written for the person using the tool: adapters (CLI, bot) show
``str(error)`` as-is, so messages say what went wrong and what to do about it, and
never contain a traceback or internal detail.
"""

from __future__ import annotations


class SourcedError(Exception):
    """Base class: an error whose text is safe to show a user."""


class ConfigError(SourcedError):
    """The configuration file or a setting is invalid."""


class IndexMissingError(SourcedError):
    """There is no usable index where one was expected."""


class IndexMismatchError(SourcedError):
    """The index on disk was built with settings incompatible with the current ones."""


class IndexBusyError(SourcedError):
    """Another process is writing the index."""


class IndexDamagedError(SourcedError):
    """A file of the index is missing, truncated or unreadable (the message names it)."""


class IndexWriteError(SourcedError):
    """Writing the index failed; the previous index is untouched."""


class QuestionError(SourcedError):
    """The question cannot be searched (empty, too long, ...)."""


class ModelLoadError(SourcedError):
    """A model (the embedding model, the answer model) could not be found or loaded."""


class NotFoundError(SourcedError):
    """What was asked for (an article id, ...) is not in the collection."""
