"""Read an article collection: files in mixed formats -> cleaned :class:`Document` s.

Formats: Markdown/text with YAML front matter (including the ``related:`` articles it
lists), plain text (title = first line; metadata from a ``NAME.meta.yaml`` sidecar or a
sources file), HTML (trafilatura) and JSONL (one article per line).

A bad file never stops the rest: it becomes a :class:`Problem` naming the file and the
reason, and reading continues. Articles that share a URL are merged into one document.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .clean import Cleaner, markdown_to_text
from .config import SourcesSettings, yaml_problem
from .types import Document, stable_hash

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
# No news article is this large: a bigger text or HTML file is a dump or junk, refused
# before it is read (cleaning and chunking it would take minutes and fill the index).
MAX_ARTICLE_BYTES = 8 * 1024 * 1024
# JSONL files hold many articles and are read line by line; each line has the limit above.
MAX_JSONL_BYTES = 2 * 1024 * 1024 * 1024

_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or Office document)",
    b"\x1f\x8b": "a gzip archive",
    b"\x7fELF": "an executable",
}
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|cmpid)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with one input, in words for a user. ``skipped``: nothing was indexed."""

    source: str
    reason: str
    skipped: bool = True


@dataclass(frozen=True, slots=True)
class Collection:
    """The result of reading: documents (merged by URL) and the problems met on the way."""

    documents: tuple[Document, ...]
    problems: tuple[Problem, ...]
    files_read: int
    merged: int

    @property
    def skipped(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.skipped)


class UnreadableError(Exception):
    """Internal: a file cannot be used; the message is the reason shown to the user."""


# ---------------------------------------------------------------------------- discovery


def discover(paths: Iterable[Path]) -> tuple[list[tuple[Path, Path]], list[Problem]]:
    """Article files under ``paths`` as (file, root) pairs, sorted, plus paths that failed.

    ``root`` is the folder the file's displayed source name is relative to. Hidden files,
    sidecar ``.meta.yaml`` files and unsupported suffixes are left out silently; symlinked
    folders are not followed, so a symlink loop cannot trap the walk.
    """
    found: dict[Path, Path] = {}
    problems: list[Problem] = []
    for path in paths:
        if path.is_file():
            found.setdefault(path, path.parent)
        elif path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path, onerror=_walk_error(problems)):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in filenames:
                    file = Path(dirpath) / name
                    if name.startswith(".") or file.suffix.lower() not in SUPPORTED_SUFFIXES:
                        continue
                    found.setdefault(file, path)
        elif path.is_symlink():
            problems.append(Problem(str(path), "broken symbolic link"))
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    return sorted(found.items()), problems


def _walk_error(problems: list[Problem]):
    def record(error: OSError) -> None:
        problems.append(Problem(str(error.filename), f"cannot open folder: {error.strerror}"))

    return record


# ---------------------------------------------------------------------------- decoding


def decode(data: bytes) -> str:
    """Bytes -> text: UTF-8 (with or without BOM), UTF-16/32 by BOM, else a detected encoding."""
    if not data.strip():
        raise UnreadableError("empty file")
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise UnreadableError(f"binary file ({kind}), not text")
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                raise UnreadableError(f"starts with a {codec} byte-order mark but is not {codec}") from None
    # NUL is valid UTF-8 but never appears in text files; UTF-16 without a BOM is full of it.
    if b"\x00" in data[:65536] and not _looks_utf16(data):
        raise UnreadableError("binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data[:1_000_000])
    best = matches.best()
    if best is None:
        raise UnreadableError("not text in any encoding that could be detected")
    encoding = best.encoding
    # Short texts fit many single-byte code pages equally well; Windows-1252 is by far the
    # most common legacy encoding of Western text (the WHATWG default), so it wins ties.
    if any(m.encoding == "cp1252" and m.chaos <= best.chaos + 0.02 for m in matches):
        encoding = "cp1252"
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise UnreadableError(f"not valid {encoding} text") from None


def _looks_utf16(data: bytes) -> bool:
    sample = data[:4096]
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) / 2
    return max(even_nuls, odd_nuls) > 0.3 * half and min(even_nuls, odd_nuls) < 0.05 * half


# ---------------------------------------------------------------------------- YAML


def _safe_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses aliases, so an alias bomb cannot eat memory."""
    import yaml

    class _NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # type: ignore[override]
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=_NoAliasLoader)


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """(front matter mapping or None, body). Raises :class:`UnreadableError` if malformed."""
    if not re.match(r"---[ \t]*\r?\n", text):
        return None, text
    first_newline = text.index("\n") + 1
    end = _FRONT_MATTER_END.search(text, first_newline)
    if end is None:
        raise UnreadableError("front matter starts with --- but is never closed")
    import yaml

    try:
        data = _safe_yaml(text[first_newline : end.start()])
    except yaml.YAMLError as exc:
        raise UnreadableError(f"front matter is not valid YAML: {yaml_problem(exc)}") from None
    except RecursionError:
        raise UnreadableError("front matter is nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UnreadableError(f"front matter is a YAML {type(data).__name__}, not a mapping of fields")
    body = text[end.end() :]
    return data, body.lstrip("\r\n")


# ---------------------------------------------------------------------------- fields


def normalize_url(url: str) -> str:
    """The form used to decide that two links are the same article."""
    parts = urlsplit(url.strip())
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k)]
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def _url(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        if re.match(r"https?://[^\s/]+", value, re.IGNORECASE):
            return value
    return None


class _Fields:
    """Reads typed fields from a loose mapping, noting each wrong type once."""

    def __init__(self, source: str, cleaner: Cleaner, problems: list[Problem]) -> None:
        self.source = source
        self.cleaner = cleaner
        self.problems = problems

    def _warn(self, reason: str) -> None:
        self.problems.append(Problem(self.source, reason, skipped=False))

    def text(self, data: Mapping[str, Any], *keys: str) -> str | None:
        for key in keys:
            value = data.get(key)
            if value is None:
                continue
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                cleaned = self.cleaner.fix(str(value))
                if cleaned:
                    return cleaned
            else:
                self._warn(f"field '{key}' should be text, not a {type(value).__name__}; ignored")
        return None

    def url(self, data: Mapping[str, Any], *keys: str) -> str | None:
        for key in keys:
            value = data.get(key)
            if value is None:
                continue
            url = _url(value)
            if url:
                return url
            self._warn(f"field '{key}' is not an http(s) link; ignored")
        return None

    def date(self, data: Mapping[str, Any], *keys: str) -> datetime | None:
        for key in keys:
            value = data.get(key)
            if value is None:
                continue
            parsed = parse_date(value)
            if parsed:
                return parsed
            self._warn(f"field '{key}' is not a date ({str(value)[:40]!r}); ignored")
        return None

    def outlet(self, data: Mapping[str, Any]) -> str | None:
        provider = data.get("provider")
        if isinstance(provider, Mapping):
            name = self.text(provider, "name")
            if name:
                return name
        return self.text(data, "outlet", "source", "site_name", "sitename", "publisher")

    def topics(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        value = data.get("topics")
        if isinstance(value, list):
            return tuple(self.cleaner.fix(str(t)) for t in value if isinstance(t, (str, int)))
        return ()


def parse_date(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime from YAML dates, ISO 8601 or RFC 2822 text."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            result = datetime.fromisoformat(text)
        except ValueError:
            try:
                result = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
    else:
        return None
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    return result.astimezone(UTC)


# ---------------------------------------------------------------------------- readers


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
        self.sources_meta = _load_sources_file(sources_file) if sources_file else {}

    def read(self, paths: Iterable[Path], progress: Any = None) -> Collection:
        """Read every article file under ``paths``. ``progress(n_done, n_total, path)`` if given."""
        files, problems = discover(paths)
        documents: list[Document] = []
        for n, (file, root) in enumerate(files):
            source = _display_name(file, root)
            file_problems: list[Problem] = []
            try:
                documents.extend(self.read_file(file, source, file_problems))
            except UnreadableError as exc:
                file_problems.append(Problem(source, str(exc)))
            problems.extend(file_problems)
            if progress:
                progress(n + 1, len(files), file)
        merged_docs, merged = merge_documents(documents, problems)
        return Collection(tuple(merged_docs), tuple(problems), len(files), merged)

    def read_file(self, file: Path, source: str, problems: list[Problem]) -> list[Document]:
        suffix = file.suffix.lower()
        limit = MAX_JSONL_BYTES if suffix in JSONL_SUFFIXES else MAX_ARTICLE_BYTES
        try:
            size = file.stat().st_size
            if size > limit:
                raise UnreadableError(
                    f"file is {size / 2**20:.0f} MB, larger than the {limit / 2**20:.0f} MB limit for one "
                    f"{'JSONL file' if suffix in JSONL_SUFFIXES else 'article'}"
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
        fields = _Fields(source, self.cleaner, problems)
        if suffix in JSONL_SUFFIXES:
            return self._read_jsonl(text, source, fields)
        if suffix in HTML_SUFFIXES:
            return [self._read_html(text, source, fields)]
        return self._read_text(file, text, source, fields, markdown=suffix in {".md", ".markdown"})

    def _read_text(self, file: Path, text: str, source: str, fields: _Fields, markdown: bool) -> list[Document]:
        front, body = split_front_matter(text)
        if markdown:
            body = markdown_to_text(body)
        body = self.cleaner.clean(body)
        if front is None:
            meta = self._sidecar(file, source, fields)
            title = fields.text(meta, "title") or _first_line(body)
            if not body.strip():
                raise UnreadableError("no article text")
            url = fields.url(meta, "url", "webUrl")
            return [
                Document(
                    id=_doc_id(url, source),
                    title=title or file.stem,
                    text=body,
                    url=url,
                    outlet=fields.outlet(meta),
                    published=fields.date(meta, "published", "publishedDateTime", "date"),
                    source=source,
                )
            ]
        main = self._front_matter_doc(front, body, source, fields, parent_id=None)
        if main is None:
            raise UnreadableError("front matter has no title and there is no article text")
        docs = [main]
        related = front.get("related")
        if related is not None and not isinstance(related, list):
            fields._warn("'related' should be a list of articles; ignored")
        for i, entry in enumerate(related if isinstance(related, list) else []):
            if not isinstance(entry, Mapping):
                fields._warn(f"related entry {i + 1} is not a mapping; ignored")
                continue
            doc = self._front_matter_doc(entry, "", f"{source} (related {i + 1})", fields, parent_id=main.id)
            if doc is None or doc.url is None:
                fields._warn(f"related entry {i + 1} has no title or no link; ignored")
                continue
            docs.append(replace(doc, source=source))
        return docs

    def _front_matter_doc(
        self, data: Mapping[str, Any], body: str, source: str, fields: _Fields, parent_id: str | None
    ) -> Document | None:
        title = fields.text(data, "title")
        excerpt = fields.text(data, "excerpt", "description", "summary")
        text = body.strip()
        if not text:
            # No body: the title and excerpt are all the text there is.
            text = "\n\n".join(x for x in (title, excerpt) if x)
        if not text:
            return None
        url = fields.url(data, "webUrl", "originalUrl", "url", "link")
        return Document(
            id=_doc_id(url, source),
            title=title or _first_line(text) or source,
            text=text,
            url=url,
            outlet=fields.outlet(data),
            published=fields.date(data, "publishedDateTime", "published", "date"),
            source=source,
            parent_id=parent_id,
            topics=fields.topics(data),
        )

    def _sidecar(self, file: Path, source: str, fields: _Fields) -> Mapping[str, Any]:
        meta: dict[str, Any] = dict(self.sources_meta.get(file.name, {}))
        suffix = self.settings.sidecar_suffix
        for candidate in (file.with_name(file.name + suffix), file.with_name(file.stem + suffix)):
            if candidate.is_file():
                try:
                    data = _safe_yaml(decode(candidate.read_bytes()))
                except Exception as exc:  # noqa: BLE001 - any failure is reported the same way
                    reason = str(exc) if isinstance(exc, UnreadableError) else yaml_problem(exc)
                    fields._warn(f"sidecar {candidate.name} ignored: {reason}")
                    break
                if isinstance(data, Mapping):
                    meta.update(data)
                else:
                    fields._warn(f"sidecar {candidate.name} ignored: not a mapping of fields")
                break
        return meta

    def _read_html(self, html: str, source: str, fields: _Fields) -> Document:
        import trafilatura

        try:
            extracted = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
        except Exception:  # noqa: BLE001 - the extractor's internal failures all mean "no text"
            extracted = None
        text = self.cleaner.clean(getattr(extracted, "text", None) or "") if extracted else ""
        if not text.strip():
            raise UnreadableError("HTML page has no main article text")
        title = self.cleaner.fix(extracted.title or "") or _first_line(text)
        url = _url(extracted.url)
        return Document(
            id=_doc_id(url, source),
            title=title,
            text=text,
            url=url,
            outlet=self.cleaner.fix(extracted.sitename or "") or None,
            published=parse_date(extracted.date) if extracted.date else None,
            source=source,
        )

    def _read_jsonl(self, text: str, source: str, fields: _Fields) -> list[Document]:
        docs = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{source} line {n}"
            if len(line) > MAX_ARTICLE_BYTES:
                fields.problems.append(Problem(where, "line is longer than the limit for one article"))
                continue
            line_fields = _Fields(where, fields.cleaner, fields.problems)
            try:
                data = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                fields.problems.append(Problem(where, f"not valid JSON ({getattr(exc, 'msg', 'too deep')})"))
                continue
            if not isinstance(data, dict):
                fields.problems.append(Problem(where, "not a JSON object"))
                continue
            body = line_fields.text(data, "text", "body", "content")
            body = self.cleaner.clean(body) if body else ""
            title = line_fields.text(data, "title")
            if not body and not title:
                fields.problems.append(Problem(where, "no title and no text"))
                continue
            url = line_fields.url(data, "url", "webUrl", "link")
            docs.append(
                Document(
                    id=_doc_id(url, f"{source}#{title or n}"),
                    title=title or _first_line(body),
                    text=body or title or "",
                    url=url,
                    outlet=line_fields.outlet(data),
                    published=line_fields.date(data, "published", "publishedDateTime", "date"),
                    source=where,
                )
            )
        if not docs and not fields.problems:
            raise UnreadableError("no usable article lines")
        return docs


def read_bytes(file: Path) -> bytes:
    """The one place article bytes are read (tests simulate unreadable files here)."""
    return file.read_bytes()


def _load_sources_file(path: Path) -> dict[str, Mapping[str, Any]]:
    from .errors import ConfigError

    try:
        data = _safe_yaml(decode(path.read_bytes()))
    except OSError as exc:
        raise ConfigError(f"Cannot read sources file {path}: {exc.strerror or exc}.") from None
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"Sources file {path} is not valid YAML: {yaml_problem(exc)}.") from None
    if not isinstance(data, Mapping) or not all(isinstance(v, Mapping) for v in data.values()):
        raise ConfigError(f"Sources file {path} must map file names to fields (url, title, outlet, published).")
    return {str(k): v for k, v in data.items()}


def _display_name(file: Path, root: Path) -> str:
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return file.name


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def _doc_id(url: str | None, source: str) -> str:
    return stable_hash("url", normalize_url(url)) if url else stable_hash("source", source)


# ---------------------------------------------------------------------------- merging


def merge_documents(documents: Iterable[Document], problems: list[Problem]) -> tuple[list[Document], int]:
    """One document per id (= per URL) and per identical text; returns (documents, n merged).

    The copy with the longest text (a full article beats a related-list excerpt) is kept
    and missing metadata is filled in from the others.
    """
    groups: dict[str, list[Document]] = {}
    for doc in documents:
        groups.setdefault(doc.id, []).append(doc)
    merged = 0
    result: list[Document] = []
    for group in groups.values():
        merged += len(group) - 1
        result.append(_merge_group(group))
    # The same article saved twice under different names (no URL to tell them apart).
    by_text: dict[str, Document] = {}
    unique: list[Document] = []
    for doc in result:
        key = stable_hash(" ".join(doc.text.split()).lower())
        kept = by_text.get(key)
        if kept is None:
            by_text[key] = doc
            unique.append(doc)
        elif doc.parent_id is None and kept.parent_id is None:
            merged += 1
            problems.append(Problem(doc.source, f"same text as {kept.source}; indexed once", skipped=False))
        else:
            unique.append(doc)
    return unique, merged


def _merge_group(group: list[Document]) -> Document:
    if len(group) == 1:
        return group[0]
    primary = max(group, key=lambda d: (d.parent_id is None, len(d.text)))
    filled = {}
    for name in ("url", "outlet", "published"):
        if getattr(primary, name) is None:
            filled[name] = next((getattr(d, name) for d in group if getattr(d, name) is not None), None)
    topics = tuple(dict.fromkeys(t for d in group for t in d.topics))
    return replace(primary, topics=topics, **filled)
