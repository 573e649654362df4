"""Read an article collection: files in mixed formats -> cleaned :class:`Document` s.

Formats (``formats.FORMATS``): Markdown/text with YAML front matter (including the
``related:`` articles it lists), plain text (title = first line; metadata from a
``NAME.meta.yaml`` sidecar or a sources file), HTML (trafilatura) and JSONL (one article
per line).

A bad file never stops the rest: it becomes a :class:`Problem` naming the file and the
reason, and reading continues. Copies of one article (a shared link and the same text) are
merged into one document; records that share only a link are two (readers/merge.py).
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from retrieval import yamlio
from retrieval.config import SourcesSettings
from retrieval.ingest.clean import Cleaner
from retrieval.ingest.readers.decode import decode, sniff
from retrieval.ingest.readers.discover import discover
from retrieval.ingest.readers.fields import Fields
from retrieval.ingest.readers.formats import MAX_ARTICLE_BYTES, Format, format_for
from retrieval.ingest.readers.merge import merge_documents
from retrieval.ingest.readers.report import Collection, LineProblem, Problem, UnreadableError
from retrieval.types import Document


class CollectionReader:
    """Reads files into documents with the cleaning and metadata rules of one config."""

    def __init__(
        self,
        cleaner: Cleaner | None = None,
        settings: SourcesSettings | None = None,
        sources_file: Path | None = None,
    ) -> None:
        self.cleaner = cleaner or Cleaner()
        self.settings = settings or SourcesSettings()
        self.sources_file = sources_file
        self.sources_meta = load_sources_file(sources_file) if sources_file else {}

    def read(self, paths: Iterable[Path], progress: Any = None, mapper: Any = None) -> Collection:
        """Read every article file under ``paths``. ``progress(n_done, n_total, path)`` if given.

        ``mapper(reader, files)``: runs :meth:`read_one` over the ``(file, root)`` pairs
        elsewhere (a Ray cluster whose workers see the same files) and returns the results
        in order; by default the files are read here, one after another."""
        files, problems = discover(
            paths, self.settings.sidecar_suffix, [self.sources_file] if self.sources_file else []
        )
        documents: list[Document] = []
        if mapper is not None:
            results = mapper(self, files)
            if progress:
                progress(len(files), len(files), None)
        else:
            results = []
            for n, (file, root) in enumerate(files):
                results.append(self.read_one(file, root))
                if progress:
                    progress(n + 1, len(files), file)
        for file_documents, file_problems in results:
            documents.extend(file_documents)
            problems.extend(file_problems)
        merged_docs, merged = merge_documents(documents, problems)
        return Collection(tuple(merged_docs), tuple(problems), len(files), merged)

    def read_one(self, file: Path, root: Path) -> tuple[list[Document], list[Problem]]:
        """One file's documents and problems (a file that cannot be read is a problem)."""
        source = display_name(file, root)
        file_problems: list[Problem] = []
        try:
            return self.read_file(file, source, file_problems, namespace=str(root.absolute())), file_problems
        except UnreadableError as exc:
            file_problems.append(Problem(source, str(exc)))
            return [], file_problems
        except Exception as exc:  # noqa: BLE001 - a bug met in one file must not stop every source's sync
            file_problems.append(Problem(source, f"could not be read ({type(exc).__name__}: {exc})"))
            return [], file_problems

    def read_file(self, file: Path, source: str, problems: list[Problem], namespace: str = "") -> list[Document]:
        """The documents in one file; ``namespace`` (its folder) keeps ids of link-less
        articles apart across folders."""
        fmt = format_for(file)
        fields = Fields(source, self.cleaner, problems, namespace)
        try:
            if fmt.streamed:
                # Line by line, never the whole file in memory (a JSONL file may be 2 GB).
                with open_article(file, fmt) as f:
                    return fmt.read(self, file, article_lines(f, fmt), source, fields)
            data = read_bytes(file)
        except PermissionError:
            raise UnreadableError("permission denied") from None
        except FileNotFoundError:
            raise UnreadableError("file disappeared while reading") from None
        except IsADirectoryError:
            raise UnreadableError("is a folder, not a file") from None
        except OSError as exc:
            raise UnreadableError(f"cannot read: {exc.strerror or exc}") from None
        text = decode(data).replace("\r\n", "\n").replace("\r", "\n")
        return fmt.read(self, file, text, source, fields)

    def sidecar(self, file: Path, source: str, fields: Fields) -> Mapping[str, Any]:
        meta: dict[str, Any] = dict(self.sources_meta.get(file.name, {}))
        suffix = self.settings.sidecar_suffix
        for candidate in (file.with_name(file.name + suffix), file.with_name(file.stem + suffix)):
            if candidate.is_file():
                try:
                    data = yamlio.load(decode(candidate.read_bytes()))
                except Exception as exc:  # noqa: BLE001 - any failure is reported the same way
                    reason = str(exc) if isinstance(exc, UnreadableError) else yamlio.problem(exc)
                    fields.warn(f"sidecar {candidate.name} ignored: {reason}")
                    break
                if isinstance(data, Mapping):
                    meta.update(data)
                else:
                    fields.warn(f"sidecar {candidate.name} ignored: not a mapping of fields")
                break
        return meta


def read_bytes(file: Path) -> bytes:
    """The one place a whole article file is read (tests simulate unreadable files here).

    At most the format's limit plus one byte is read whatever the file's size says, so a
    file that grows while it is read cannot fill the memory."""
    fmt = format_for(file)
    with open_article(file, fmt) as f:
        data = f.read(fmt.max_bytes + 1)
    if len(data) > fmt.max_bytes:
        raise UnreadableError(_too_large(fmt))
    return data


# Files here are never articles, whatever their type says: /proc and /sys files call
# themselves regular files of size 0 and are generated as they are read.
_SYSTEM_FOLDERS = ("/proc", "/sys", "/dev")
# Streamed files are read this much at a time.
_CHUNK = 65536
# Never block: opening a FIFO for reading would otherwise wait for a writer forever.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def open_article(file: Path, fmt: Format) -> io.BufferedReader:
    """``file`` opened for reading, if it is a regular file within the format's size limit.

    FIFOs, sockets and devices are refused before they are opened (opening a FIFO waits
    for a writer; a tape device may rewind) and again after (the name may have been
    swapped meanwhile): the open is non-blocking, and what is checked is the open file.
    Reads through the returned file stop after the limit plus one byte."""
    real = os.path.realpath(file)
    for folder in _SYSTEM_FOLDERS:
        if real == folder or real.startswith(folder + "/"):
            raise UnreadableError(f"a system file (under {folder}), not an article; not read")
    _check_regular(os.stat(file).st_mode)
    fd = os.open(file, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        _check_regular(st.st_mode)
        if st.st_size > fmt.max_bytes:
            raise UnreadableError(_too_large(fmt, st.st_size))
        raw = io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(_Capped(raw, fmt.max_bytes + 1), buffer_size=_CHUNK)


def _too_large(fmt: Format, size: int | None = None) -> str:
    limit = f"the {fmt.max_bytes / 2**20:.0f} MB limit for one {fmt.unit}"
    if size is None:  # grew past the limit while it was read
        return f"file is larger than {limit}"
    return f"file is {size / 2**20:.0f} MB, larger than {limit}"


def _check_regular(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "Is a directory")
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    )
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    raise UnreadableError(f"not a regular file ({kind}); not read")


class _Capped(io.RawIOBase):
    """A raw file that ends after ``limit`` bytes, whatever the file holds."""

    def __init__(self, raw: io.FileIO, limit: int) -> None:
        self._raw = raw
        self.left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            return 0
        n = self._raw.readinto(memoryview(buffer)[: min(len(buffer), self.left)]) or 0
        self.left -= n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def article_lines(f: io.BufferedReader, fmt: Format) -> Iterator[str]:
    """The lines of an open article file as text, one at a time, without their line ends.

    A line longer than one article's limit is skipped unread and a line that is not text
    in any encoding is left out: each becomes a :class:`LineProblem`, so the reader can
    name the line and go on. A file that grows past its limit while it is read is refused."""
    head = f.peek(_CHUNK)[:_CHUNK]
    if not head.strip() and len(head) < _CHUNK:
        raise UnreadableError("empty file")
    codec = sniff(head)
    max_line = MAX_ARTICLE_BYTES
    if codec and codec != "utf-8-sig":
        # UTF-16/32: newline bytes are not whole characters; let the codec find the lines.
        text = io.TextIOWrapper(f, encoding=codec, newline=None)
        try:
            while line := text.readline(max_line + 1):
                if len(line) > max_line and not line.endswith("\n"):
                    while (rest := text.readline(_CHUNK)) and not rest.endswith("\n"):
                        pass
                    yield LineProblem("line is longer than the limit for one article")
                    continue
                yield line.rstrip("\n")
        except UnicodeDecodeError:
            raise UnreadableError(f"starts with a {codec} byte-order mark but is not {codec}") from None
    else:
        while raw := f.readline(max_line + 1):
            if len(raw) > max_line and not raw.endswith(b"\n"):
                while (rest := f.readline(_CHUNK)) and not rest.endswith(b"\n"):
                    pass  # the rest is dropped a chunk at a time, never held whole
                yield LineProblem("line is longer than the limit for one article")
                continue
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                yield ""
                continue
            try:
                # Each line decoded by itself: UTF-8 (BOM on the first), else its detected encoding.
                yield decode(raw)
            except UnreadableError as exc:
                yield LineProblem(str(exc))
    if f.raw.left <= 0:
        raise UnreadableError(_too_large(fmt))


def load_sources_file(path: Path) -> dict[str, Mapping[str, Any]]:
    from retrieval.errors import ConfigError

    try:
        data = yamlio.load(decode(path.read_bytes()))
    except OSError as exc:
        raise ConfigError(f"Cannot read sources file {path}: {exc.strerror or exc}.") from None
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"Sources file {path} is not valid YAML: {yamlio.problem(exc)}.") from None
    if not isinstance(data, Mapping) or not all(isinstance(v, Mapping) for v in data.values()):
        raise ConfigError(f"Sources file {path} must map file names to fields (url, title, outlet, published).")
    return {str(k): v for k, v in data.items()}


def display_name(file: Path, root: Path) -> str:
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return file.name
