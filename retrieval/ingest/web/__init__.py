"""Pages, feeds and sitemaps as sources: fetched politely, extracted, kept current.

``fetch`` is the HTTP side (timeouts, a size cap enforced while streaming, redirects
checked one hop at a time, robots.txt, conditional GET, a per-host delay and bounded
concurrency); ``detect`` says what a response is; ``extract`` turns a page into an
article and a feed or sitemap into links; ``source`` reads one registered URL source
into articles for the indexer. Heavy or optional libraries (httpx, feedparser,
trafilatura) are imported inside the functions that use them.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def is_url(text: str) -> bool:
    """Whether a SOURCE given on the command line is a web address (http or https)."""
    try:
        parts = urlsplit(str(text).strip())
    except ValueError:  # "http://[::1": not an address at all (bad_url says why)
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def bad_url(text: str) -> str | None:
    """Why a SOURCE that starts like a web address (http:// or https://) is not one, or None."""
    try:
        parts = urlsplit(str(text).strip())
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"not a valid web address ({exc})"
    if parts.scheme in ("http", "https") and not parts.hostname:
        return "not a valid web address (no host after //)"
    return None
