"""Which files under the given paths are articles."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from retrieval.ingest.readers.formats import SUPPORTED_SUFFIXES
from retrieval.ingest.readers.report import Problem


def discover(paths: Iterable[Path]) -> tuple[list[tuple[Path, Path]], list[Problem]]:
    """Article files under ``paths`` as (file, root) pairs, sorted, plus paths that failed.

    ``root`` is the folder the file's displayed source name is relative to. Hidden files,
    sidecar ``.meta.yaml`` files and unsupported suffixes are left out silently; symlinked
    folders are not followed, so a symlink loop cannot trap the walk. A symbolic link
    in a folder that leads out of it (``notes.txt -> /etc/passwd``) is never read: it is
    reported as skipped. (A file named on its own is read where its link leads, since
    the user named it; special files are refused when they are read.)
    """
    found: dict[Path, Path] = {}
    problems: list[Problem] = []
    for path in paths:
        if path.is_file():
            found.setdefault(path, path.parent)
        elif path.is_dir():
            inside = os.path.realpath(path)
            for dirpath, dirnames, filenames in os.walk(path, onerror=_walk_error(problems)):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in filenames:
                    file = Path(dirpath) / name
                    if name.startswith(".") or file.suffix.lower() not in SUPPORTED_SUFFIXES:
                        continue
                    if file.is_symlink() and not _within(os.path.realpath(file), inside):
                        problems.append(
                            Problem(file.relative_to(path).as_posix(), "symbolic link to outside the folder; not read")
                        )
                        continue
                    found.setdefault(file, path)
        elif path.exists():  # a FIFO, socket or device named on its own: never opened
            problems.append(Problem(str(path), "not a regular file or folder; not read"))
        elif path.is_symlink():
            problems.append(Problem(str(path), "broken symbolic link"))
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    return sorted(found.items()), problems


def _within(target: str, folder: str) -> bool:
    return os.path.commonpath([target, folder]) == folder


def _walk_error(problems: list[Problem]):
    def record(error: OSError) -> None:
        problems.append(Problem(str(error.filename), f"cannot open folder: {error.strerror}"))

    return record
