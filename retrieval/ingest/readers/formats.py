"""The article file formats, one registry entry each: suffixes, size limit and reader.

A reader turns one file's decoded text into documents, reporting field problems through
``fields`` and raising :class:`UnreadableError` when the file holds no article. A new
format is one ``FORMATS.add(Format(...))``: discovery, the size check and the dispatch
all read this table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from retrieval.ingest.clean import Cleaner, markdown_to_text
from retrieval.ingest.readers.fields import Fields, first_line, parse_date, url_value
from retrieval.ingest.readers.frontmatter import split_front_matter
from retrieval.ingest.readers.report import LineProblem, Problem, UnreadableError
from retrieval.registry import Registry
from retrieval.types import Document

# No news article is this large: a bigger text or HTML file is a dump or junk, refused
# before it is read (cleaning and chunking it would take minutes and fill the index).
MAX_ARTICLE_BYTES = 8 * 1024 * 1024
# JSONL files hold many articles and are read line by line; each line has the limit above.
MAX_JSONL_BYTES = 2 * 1024 * 1024 * 1024


class ReaderContext(Protocol):
    """What a format reader may use of the collection reader: cleaning and sidecar metadata."""

    cleaner: Cleaner

    def sidecar(self, file: Path, source: str, fields: Fields) -> Mapping[str, Any]: ...


# (reader, file, text or, for a streamed format, its lines, source name, fields) -> documents
FormatReader = Callable[[ReaderContext, Path, Any, str, Fields], list[Document]]


@dataclass(frozen=True)
class Format:
    name: str
    suffixes: frozenset[str]
    max_bytes: int
    read: FormatReader
    unit: str = "article"  # what the size limit is for, in the message when a file is too large
    # True: ``read`` is given the file's lines one at a time (``str`` each, or a
    # ``LineProblem``) instead of its whole text, so a large file is never held in memory.
    streamed: bool = False


def _read_text(
    reader: ReaderContext, file: Path, text: str, source: str, fields: Fields, markdown: bool
) -> list[Document]:
    front, body = split_front_matter(text)
    if markdown:
        body = markdown_to_text(body)
    body = reader.cleaner.clean(body)
    if front is None:
        meta = reader.sidecar(file, source, fields)
        title = fields.text(meta, "title") or first_line(body)
        if not body.strip():
            raise UnreadableError("no article text")
        url = fields.url(meta, "url", "webUrl")
        return [
            Document(
                id=fields.doc_id(url, source),
                title=title or file.stem,
                text=body,
                url=url,
                outlet=fields.outlet(meta),
                published=fields.date(meta, "published", "publishedDateTime", "date"),
                source=source,
            )
        ]
    main = _front_matter_doc(front, body, source, fields, parent_id=None)
    if main is None:
        raise UnreadableError("front matter has no title and there is no article text")
    docs = [main]
    related = front.get("related")
    if related is not None and not isinstance(related, list):
        fields.warn("'related' should be a list of articles; ignored")
    for i, entry in enumerate(related if isinstance(related, list) else []):
        if not isinstance(entry, Mapping):
            fields.warn(f"related entry {i + 1} is not a mapping; ignored")
            continue
        doc = _front_matter_doc(entry, "", f"{source} (related {i + 1})", fields, parent_id=main.id)
        if doc is None or doc.url is None:
            fields.warn(f"related entry {i + 1} has no title or no link; ignored")
            continue
        docs.append(replace(doc, source=source))
    return docs


def _front_matter_doc(
    data: Mapping[str, Any], body: str, source: str, fields: Fields, parent_id: str | None
) -> Document | None:
    title = fields.text(data, "title")
    excerpt = fields.text(data, "excerpt", "description", "summary")
    if excerpt:
        # Feeds build excerpts from the page's first words, which can be an author bio's tail.
        excerpt = fields.cleaner.trim_bio(excerpt)
    text = body.strip()
    if not text:
        # No body: the title and excerpt are all the text there is.
        text = "\n\n".join(x for x in (title, excerpt) if x)
    if not text:
        return None
    url = fields.url(data, "webUrl", "originalUrl", "url", "link")
    return Document(
        id=fields.doc_id(url, source),
        title=title or first_line(text) or source,
        text=text,
        url=url,
        outlet=fields.outlet(data),
        published=fields.date(data, "publishedDateTime", "published", "date"),
        source=source,
        parent_id=parent_id,
        topics=fields.topics(data),
    )


def read_markdown(reader: ReaderContext, file: Path, text: str, source: str, fields: Fields) -> list[Document]:
    return _read_text(reader, file, text, source, fields, markdown=True)


def read_plain(reader: ReaderContext, file: Path, text: str, source: str, fields: Fields) -> list[Document]:
    return _read_text(reader, file, text, source, fields, markdown=False)


def read_html(reader: ReaderContext, file: Path, html: str, source: str, fields: Fields) -> list[Document]:
    return [html_document(reader.cleaner, html, source, fields)]


def html_document(
    cleaner: Cleaner,
    html: str,
    source: str,
    fields: Fields,
    page_url: str | None = None,
    listed: datetime | None = None,
) -> Document:
    """The article in an HTML page: main text (trafilatura, without navigation, comments and
    footers), title, outlet (``og:site_name``), date and link. The link is the page's
    canonical URL, else ``page_url`` (where it was fetched), else none; never invented.

    The date is the page's own (its metadata, or a date in its markup), else ``listed``
    (what the feed item or news sitemap that listed it says), else htmldate's extensive
    guess ("Copyright 2024" in a footer reads as 2024-01-01: the last resort, not before
    a listing's real date)."""
    import trafilatura
    from trafilatura.settings import set_date_params

    try:
        extracted = trafilatura.bare_extraction(
            html,
            with_metadata=True,
            include_comments=False,
            url=page_url,
            date_extraction_params=set_date_params(extensive=False),
        )
    except Exception:  # noqa: BLE001 - the extractor's internal failures all mean "no text"
        extracted = None
    text = cleaner.clean(getattr(extracted, "text", None) or "") if extracted else ""
    if not text.strip():
        raise UnreadableError("HTML page has no main article text")
    title = cleaner.fix(extracted.title or "") or first_line(text)
    canonical = extracted.url
    if canonical and page_url:
        from urllib.parse import urljoin

        canonical = urljoin(page_url, canonical)  # a relative <link rel="canonical">
    url = url_value(canonical) or url_value(page_url)
    return Document(
        id=fields.doc_id(url, source),
        title=title,
        text=text,
        url=url,
        outlet=cleaner.fix(extracted.sitename or "") or None,
        published=(parse_date(extracted.date) if extracted.date else None) or listed or _guessed_date(html, page_url),
        source=source,
    )


def _guessed_date(html: str, page_url: str | None) -> datetime | None:
    """htmldate's extensive search (dates in the text, a copyright year), as trafilatura's default does."""
    from trafilatura.settings import set_date_params

    try:
        from htmldate import find_date

        found = find_date(html, url=page_url, **set_date_params(extensive=True))
    except Exception:  # noqa: BLE001 - no date is a fine answer
        return None
    return parse_date(found) if found else None


def read_jsonl(reader: ReaderContext, file: Path, lines: Iterable[str], source: str, fields: Fields) -> list[Document]:
    docs = []
    for n, line in enumerate(lines, start=1):
        where = f"{source} line {n}"
        if isinstance(line, LineProblem):  # too long, or not text: named, and the rest is read
            fields.problems.append(Problem(where, str(line)))
            continue
        if not line.strip():
            continue
        try:
            doc = _jsonl_document(reader, line, n, source, where, fields)
        except Exception as exc:  # noqa: BLE001 - one line's surprise costs that line only
            fields.problems.append(Problem(where, f"could not be read ({type(exc).__name__}: {exc})"))
            continue
        if doc is not None:
            docs.append(doc)
    if not docs and not fields.problems:
        raise UnreadableError("no usable article lines")
    return docs


def _jsonl_document(
    reader: ReaderContext, line: str, n: int, source: str, where: str, fields: Fields
) -> Document | None:
    """The article on one JSONL line, or None with the reason in ``fields.problems``."""
    line_fields = Fields(where, fields.cleaner, fields.problems, fields.namespace)
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        fields.problems.append(Problem(where, f"not valid JSON ({getattr(exc, 'msg', 'too deep')})"))
        return None
    if not isinstance(data, dict):
        fields.problems.append(Problem(where, "not a JSON object"))
        return None
    body = line_fields.text(data, "text", "body", "content")
    body = reader.cleaner.clean(body) if body else ""
    title = line_fields.text(data, "title")
    if not body:
        # A title alone is not an article: nothing in it could answer a question.
        fields.problems.append(Problem(where, "no article text" + (" (only a title)" if title else "")))
        return None
    url = line_fields.url(data, "url", "webUrl", "link")
    return Document(
        id=fields.doc_id(url, f"{source}#{title or n}"),
        title=title or first_line(body),
        text=body,
        url=url,
        outlet=line_fields.outlet(data),
        published=line_fields.date(data, "published", "publishedDateTime", "date"),
        source=where,
    )


FORMATS: Registry[Format] = Registry("file format")
FORMATS.add("markdown", Format("markdown", frozenset({".md", ".markdown"}), MAX_ARTICLE_BYTES, read_markdown))
FORMATS.add("text", Format("text", frozenset({".txt", ".text"}), MAX_ARTICLE_BYTES, read_plain))
FORMATS.add("html", Format("html", frozenset({".html", ".htm", ".xhtml"}), MAX_ARTICLE_BYTES, read_html))
FORMATS.add(
    "jsonl",
    Format("jsonl", frozenset({".jsonl", ".ndjson"}), MAX_JSONL_BYTES, read_jsonl, "JSONL file", streamed=True),
)

SUPPORTED_SUFFIXES = frozenset(s for name in FORMATS for s in FORMATS.get(name).suffixes)


def format_for(file: Path) -> Format:
    """The format of ``file`` by its suffix; a file named directly with another suffix is read as text."""
    suffix = file.suffix.lower()
    return next((FORMATS.get(n) for n in FORMATS if suffix in FORMATS.get(n).suffixes), FORMATS.get("text"))
