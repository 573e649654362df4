"""Read an article collection: files in mixed formats -> cleaned :class:`Document` s.

Formats (``formats.FORMATS``): Markdown/text with YAML front matter (including the
``related:`` articles it lists), plain text (title = first line; metadata from a
``NAME.meta.yaml`` sidecar or a sources file), HTML (trafilatura) and JSONL (one article
per line).

A bad file never stops the rest: it becomes a :class:`Problem` naming the file and the
reason, and reading continues. Articles that share a URL are merged into one document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from retrieval import yamlio
from retrieval.config import SourcesSettings
from retrieval.ingest.clean import Cleaner
from retrieval.ingest.readers.decode import decode
from retrieval.ingest.readers.discover import discover
from retrieval.ingest.readers.fields import Fields
from retrieval.ingest.readers.formats import format_for
from retrieval.ingest.readers.merge import merge_documents
from retrieval.ingest.readers.report import Collection, Problem, UnreadableError
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
        self.sources_meta = load_sources_file(sources_file) if sources_file else {}

    def read(self, paths: Iterable[Path], progress: Any = None, mapper: Any = None) -> Collection:
        """Read every article file under ``paths``. ``progress(n_done, n_total, path)`` if given.

        ``mapper(reader, files)``: runs :meth:`read_one` over the ``(file, root)`` pairs
        elsewhere (a Ray cluster whose workers see the same files) and returns the results
        in order; by default the files are read here, one after another."""
        files, problems = discover(paths)
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

    def read_file(self, file: Path, source: str, problems: list[Problem], namespace: str = "") -> list[Document]:
        """The documents in one file; ``namespace`` (its folder) keeps ids of link-less
        articles apart across folders."""
        fmt = format_for(file)
        limit = fmt.max_bytes
        try:
            size = file.stat().st_size
            if size > limit:
                raise UnreadableError(
                    f"file is {size / 2**20:.0f} MB, larger than the {limit / 2**20:.0f} MB limit for one {fmt.unit}"
                )
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
        return fmt.read(self, file, text, source, Fields(source, self.cleaner, problems, namespace))

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
    """The one place article bytes are read (tests simulate unreadable files here)."""
    return file.read_bytes()


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
