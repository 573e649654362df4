"""What a response is (page, feed, sitemap or something else) and what is in it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin
from xml.sax import SAXException

from retrieval.ingest.web.fetch import FetchError, Response

FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"}
XML_TYPES = {"application/xml", "text/xml"}
HTML_TYPES = {"text/html", "application/xhtml+xml"}
_SNIFF = 2048
_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:RDF)[\s>]", re.IGNORECASE)
_SITEMAP_ROOT = re.compile(rb"<(urlset|sitemapindex)[\s>]", re.IGNORECASE)
_HTML_START = re.compile(rb"\s*(<!--.*?-->\s*)*<(!doctype html|html|head|body|meta|title|div|p|article)\b", re.I | re.S)
# What may come before an XML document's root element: the declaration, stylesheet
# processing instructions, comments and a doctype.
_XML_PROLOG = re.compile(rb"\s*(<\?[^>]*\?>\s*|<!--.*?-->\s*|<!doctype[^>]*>\s*)*", re.I | re.S)


@dataclass(frozen=True)
class Link:
    url: str
    title: str | None = None
    # When the feed item (or a news sitemap's entry) says the story was published: the
    # article's date when its page gives none.
    published: str | None = None
    modified: str | None = None  # a sitemap's <lastmod>: when the page last changed, no publication date


def _looks_binary(body: bytes) -> bool:
    """NUL bytes or mostly undecodable bytes in the first few KB: not text, whatever the
    Content-Type says."""
    head = body[:_SNIFF]
    if b"\x00" in head:
        return True
    text = head.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f")
    return (bad + controls) > 0.1 * max(1, len(text))


def kind_of(response: Response) -> str:
    """'feed', 'sitemap' or 'page', or :class:`FetchError` saying why it is none of them."""
    media, head = response.content_type, response.body[:_SNIFF].lstrip()
    if not response.body.strip():
        raise FetchError("empty response")
    if media in FEED_TYPES or (media in XML_TYPES | {"", "text/plain"} and _FEED_ROOT.search(head)):
        return "feed"
    if media in XML_TYPES | {"", "text/plain"} and _SITEMAP_ROOT.search(head):
        return "sitemap"
    if media in HTML_TYPES or (media in ("", "text/plain") and _HTML_START.match(head)):
        if _looks_binary(response.body):
            raise FetchError(f"binary content sent as {media or 'an untyped response'}")
        # A feed or sitemap served as text/html happens: the content type lies, so the
        # root element (after an XML declaration, which the old check did not skip) decides.
        return _xml_root(head) or "page"
    raise FetchError(f"not an article page, feed or sitemap ({media or 'no content type'})")


def _xml_root(head: bytes) -> str | None:
    """'feed' or 'sitemap' when the document's root element is one, else None."""
    rest = head[_XML_PROLOG.match(head).end() :]  # type: ignore[union-attr] - the pattern matches empty
    if _FEED_ROOT.match(rest):
        return "feed"
    if _SITEMAP_ROOT.match(rest):
        return "sitemap"
    return None


def decoded(response: Response) -> str:
    """The body as text: the declared charset, else what the bytes say (charset-normalizer)."""
    if response.charset:
        try:
            return response.body.decode(response.charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return response.body.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(response.body).best()
        return str(best) if best is not None else response.body.decode("utf-8", "replace")


def feed_links(response: Response, limit: int) -> list[Link]:
    """The items of an RSS or Atom feed, newest first as the feed lists them."""
    import feedparser

    parsed = feedparser.parse(response.body, response_headers=_feed_headers(response))
    if not parsed.get("version"):
        # feedparser found no RSS, Atom or RDF root: whatever it is, it is not a feed.
        reason = type(parsed.bozo_exception).__name__ if parsed.bozo else "no RSS or Atom root element"
        raise FetchError(f"not a readable feed ({reason})")
    if parsed.bozo and not parsed.entries and isinstance(parsed.bozo_exception, SAXException):
        # Broken XML with nothing salvaged (a truncated download): refused rather than
        # registered as empty. Other bozo flags (an encoding override, a lenient parse)
        # do not make a feed unreadable, and a valid feed with no items is a feed.
        raise FetchError(f"not a readable feed ({type(parsed.bozo_exception).__name__})")
    links = []
    for entry in parsed.entries:
        href = entry.get("link") or next(
            (x.get("href") for x in entry.get("links", []) if x.get("rel") == "alternate"), None
        )
        if not href:
            continue
        published = entry.get("published") or entry.get("updated")  # Atom's <updated> when that is all
        links.append(Link(urljoin(response.url, href), entry.get("title"), published))
        if len(links) >= limit:
            break
    return links


def _feed_headers(response: Response) -> dict[str, str]:
    """The headers feedparser is given. Without a content type it flags every feed as
    NonXMLContentType; a feed sent as text/plain or text/html (known to be a feed by its
    root element, see :func:`kind_of`) is described as XML, which is what it is."""
    media = response.content_type if response.content_type in FEED_TYPES | {"application/xml"} else "application/xml"
    if response.charset:
        media += f"; charset={response.charset}"
    return {"content-location": response.url, "content-type": media}


def sitemap_links(response: Response, limit: int) -> tuple[list[Link], list[str]]:
    """(page links, nested sitemap URLs) of a sitemap or sitemap index."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(response.body)
    except ET.ParseError as exc:
        raise FetchError(f"not a readable sitemap ({exc})") from None
    pages, nested = [], []
    for element in root:
        tag = element.tag.rsplit("}", 1)[-1]
        loc = next((c.text for c in element if c.tag.rsplit("}", 1)[-1] == "loc" and c.text), None)
        if not loc:
            continue
        if tag == "sitemap":
            nested.append(urljoin(response.url, loc.strip()))
        elif tag == "url" and len(pages) < limit:
            modified = next((c.text for c in element if c.tag.rsplit("}", 1)[-1] == "lastmod"), None)
            # A news sitemap's <news:news><news:publication_date>.
            published = next(
                (c.text for c in element.iter() if c.tag.rsplit("}", 1)[-1] == "publication_date" and c.text), None
            )
            pages.append(Link(urljoin(response.url, loc.strip()), None, published, modified))
    return pages, nested
