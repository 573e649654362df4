"""fsync helpers: what makes a rename of a finished generation survive a power cut."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_file(f) -> None:
    f.flush()
    os.fsync(f.fileno())


def fsync_tree(folder: Path) -> None:
    # Files written by libraries (FAISS, bm25s) are not fsynced by them; do it before
    # the rename that makes them live, or a power cut could expose empty files.
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        elif path.is_dir():
            fsync_dir(path)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
