"""Metadata fields (title, link, outlet, date, topics) read leniently from any mapping."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from retrieval.ingest.clean import Cleaner
from retrieval.ingest.readers.report import Problem
from retrieval.types import stable_hash

_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|cmpid)$", re.IGNORECASE)


def normalize_url(url: str) -> str:
    """The form used to decide that two links are the same article."""
    parts = urlsplit(url.strip())
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k)]
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def article_key(url: str) -> str:
    """The form that names an article: :func:`normalize_url`, with ``http`` read as ``https``
    and a default port dropped. One page linked as http://… in a feed and https://… in a
    file is one article, not two answers citing the same story. (A source's registered
    name keeps its scheme: it is where the page is fetched.)"""
    key = normalize_url(url)
    parts = urlsplit(key)
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    netloc = parts.netloc
    if (netloc.endswith(":80") and parts.scheme == "http") or (netloc.endswith(":443") and parts.scheme == "https"):
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def url_value(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        if re.match(r"https?://[^\s/]+", value, re.IGNORECASE):
            return value
    return None


class Fields:
    """Reads typed fields from a loose mapping, noting each wrong type once."""

    def __init__(self, source: str, cleaner: Cleaner, problems: list[Problem], namespace: str = "") -> None:
        self.source = source
        self.cleaner = cleaner
        self.problems = problems
        # The folder the source name is relative to: two folders' "index.txt" are two articles.
        self.namespace = namespace

    def doc_id(self, url: str | None, source: str) -> str:
        return doc_id(url, source, self.namespace)

    def warn(self, reason: str) -> None:
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
                self.warn(f"field '{key}' should be text, not a {type(value).__name__}; ignored")
        return None

    def url(self, data: Mapping[str, Any], *keys: str) -> str | None:
        for key in keys:
            value = data.get(key)
            if value is None:
                continue
            url = url_value(value)
            if url:
                return url
            self.warn(f"field '{key}' is not an http(s) link; ignored")
        return None

    def date(self, data: Mapping[str, Any], *keys: str) -> datetime | None:
        for key in keys:
            value = data.get(key)
            if value is None:
                continue
            parsed = parse_date(value)
            if parsed:
                return parsed
            self.warn(f"field '{key}' is not a date ({str(value)[:40]!r}); ignored")
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
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
    else:
        return None
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    try:
        # Inside the try: "0001-01-01T00:00:00+01:00" is valid ISO 8601, but in UTC it
        # falls before year 1 (OverflowError), so it is no date we can keep.
        return result.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# A date more than this far past the clock is no publication date yet (a typo, a scheduled
# item): a day of slack for time zones.
FUTURE_SLACK = timedelta(days=1)


def in_future(when: datetime) -> bool:
    """Whether ``when`` (timezone-aware) is past today, time zones allowed for."""
    return when > datetime.now(UTC) + FUTURE_SLACK


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def doc_id(url: str | None, source: str, namespace: str = "") -> str:
    """An article's id: its normalised link, else where it was read (folder and file name)."""
    if url:
        return stable_hash("url", article_key(url))
    return stable_hash("source", namespace, source) if namespace else stable_hash("source", source)
