"""The one-writer lock of an index folder, on the filelock package (POSIX and Windows alike)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from retrieval.errors import IndexBusyError, IndexWriteError

LOCK = ".lock"
HOLDER = ".lock.holder"  # who holds the lock, for the "busy" message; advisory only


@contextlib.contextmanager
def writer_lock(folder: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the folder's writer lock, or raise :class:`IndexBusyError` once ``wait_seconds`` pass."""
    from filelock import FileLock, Timeout

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexWriteError(f"Cannot create the index folder {folder}: {exc.strerror or exc}.") from None
    lock = FileLock(folder / LOCK, timeout=wait_seconds)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = (folder / HOLDER).read_text(encoding="utf-8").strip()
        except OSError:
            holder = ""
        raise IndexBusyError(
            f"The index at {folder} is being written by {holder or 'another process'}; "
            "wait for it to finish and try again."
        ) from None
    except OSError as exc:
        raise IndexWriteError(f"Cannot lock the index folder {folder}: {exc.strerror or exc}.") from None
    try:
        with contextlib.suppress(OSError):
            (folder / HOLDER).write_text(f"process {os.getpid()}", encoding="utf-8")
        yield
    finally:
        lock.release()
