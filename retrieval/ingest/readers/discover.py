"""Which files under the given paths are articles."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from retrieval.ingest.readers.formats import SUPPORTED_SUFFIXES
from retrieval.ingest.readers.report import Problem


def discover(
    paths: Iterable[Path], sidecar_suffix: str = ".meta.yaml", metadata: Iterable[Path] = ()
) -> tuple[list[tuple[Path, Path]], list[Problem]]:
    """Article files under ``paths`` as (file, root) pairs, sorted, plus paths that failed.

    ``root`` is the folder the file's displayed source name is relative to. Hidden files
    and folders, sidecars (``sidecar_suffix``) and the ``metadata`` files (a sources file)
    are left out silently; files of a type sourced does not read are left out and counted
    by suffix in one note per folder. Symlinked folders are not followed, so a symlink
    loop cannot trap the walk. A symbolic link in a folder that leads out of it
    (``notes.txt -> /etc/passwd``) is never read: it is reported as skipped. (A file named
    on its own is read where its link leads, since the user named it; special files are
    refused when they are read.)
    """
    found: dict[Path, Path] = {}
    problems: list[Problem] = []
    quiet = {Path(m).absolute() for m in metadata}
    for path in paths:
        if path.is_file():
            found.setdefault(path, path.parent)
        elif path.is_dir():
            inside = os.path.realpath(path)
            unread: Counter[str] = Counter()
            for dirpath, dirnames, filenames in os.walk(path, onerror=_walk_error(problems)):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in filenames:
                    file = Path(dirpath) / name
                    if name.startswith(".") or name.endswith(sidecar_suffix) or file.absolute() in quiet:
                        continue
                    if file.suffix.lower() not in SUPPORTED_SUFFIXES:
                        unread[file.suffix.lower() or "no suffix"] += 1
                        continue
                    if file.is_symlink() and not _within(os.path.realpath(file), inside):
                        problems.append(
                            Problem(file.relative_to(path).as_posix(), "symbolic link to outside the folder; not read")
                        )
                        continue
                    found.setdefault(file, path)
            if unread:
                problems.append(Problem(str(path), unread_note(unread), skipped=False, note=True))
        elif path.exists():  # a FIFO, socket or device named on its own: never opened
            problems.append(Problem(str(path), "not a regular file or folder; not read"))
        elif path.is_symlink():
            problems.append(Problem(str(path), "broken symbolic link"))
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    return sorted(found.items()), problems


def _within(target: str, folder: str) -> bool:
    return os.path.commonpath([target, folder]) == folder


def unread_note(suffixes: Counter[str]) -> str:
    """ "skipped 3 files of types sourced does not read (.pdf ×2, .csv)"."""
    total = sum(suffixes.values())
    kinds = ", ".join(f"{s} ×{n}" if n > 1 else s for s, n in sorted(suffixes.items(), key=lambda x: (-x[1], x[0])))
    if total == 1:
        return f"skipped 1 file of a type sourced does not read ({kinds})"
    of = "types" if len(suffixes) > 1 else "a type"
    return f"skipped {total} files of {of} sourced does not read ({kinds})"


def _walk_error(problems: list[Problem]):
    def record(error: OSError) -> None:
        problems.append(Problem(str(error.filename), f"cannot open folder: {error.strerror}"))

    return record
