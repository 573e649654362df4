"""The `sourced` command line: a thin adapter over the library (see ``main``)."""

from retrieval.cli.main import main

__all__ = ["main"]
