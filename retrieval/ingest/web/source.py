"""Read one registered URL source (a page, a feed or a sitemap) into articles.

A feed's or sitemap's items are fetched as pages, several at a time (the fetcher keeps
to one request per host at a time, spaced by the host delay). Every item that fails is
named with its reason; the rest are read. A page or feed that answers 304 Not Modified
is unchanged: its articles are the ones the index already holds.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from retrieval.ingest.clean import Cleaner
from retrieval.ingest.readers import Problem, UnreadableError, normalize_url
from retrieval.ingest.readers.fields import Fields, article_key, doc_id, in_future, parse_date
from retrieval.ingest.readers.formats import html_document
from retrieval.ingest.web.extract import Link, decoded, feed_links, kind_of, sitemap_links
from retrieval.ingest.web.fetch import Fetcher, FetchError, Response
from retrieval.ingest.web.sites import outlet_for, same_site
from retrieval.types import Document

MAX_NESTED_SITEMAPS = 10


@dataclass(frozen=True)
class SyncBudget:
    """The time one sync may spend fetching (``web.sync_budget_seconds``). An item not
    started when it is used up is left for the next sync and named; a request already
    under way ends within its own deadline, so a sync ends within the budget plus one
    ``web.timeout_seconds``."""

    seconds: float
    ends: float  # time.monotonic() when it is used up

    @classmethod
    def start(cls, seconds: float) -> SyncBudget:
        return cls(seconds, time.monotonic() + seconds)

    def spent(self) -> bool:
        return time.monotonic() >= self.ends

    @property
    def reason(self) -> str:
        return f"left for the next sync: this sync's {self.seconds:g} s (web.sync_budget_seconds) were used up"


@dataclass
class WebRead:
    """What reading one URL source found."""

    kind: str  # "page", "feed" or "sitemap"
    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unchanged: set[str] = field(default_factory=set)  # ids of held articles answered 304
    all_unchanged: bool = False  # the feed or sitemap itself answered 304
    fetched: int = 0
    listed: int | None = None  # items a feed or sitemap listed (None: a page, or a 304)


def url_key(url: str) -> str:
    """The name a URL source is registered under."""
    return normalize_url(url)


def read_web_source(
    url: str,
    fetcher: Fetcher,
    cleaner: Cleaner,
    held: Collection[str],
    items: int = 100,
    progress: Callable[[int, int], None] | None = None,
    budget: SyncBudget | None = None,
    stored: Stored | None = None,
) -> WebRead:
    """Read the source at ``url``. ``held``: ids of the articles the index holds, from
    whichever source (a conditional GET is only sent for what the index still has: an
    article a feed holds is as good as one this sitemap holds). ``budget``: items not
    started when it is spent are left for the next sync, each named. Raises
    :class:`FetchError` when the source itself cannot be read."""
    held = set(held)
    response = fetcher.get(url, conditional=_may_skip(fetcher, url, held))
    if response.not_modified:
        kind = fetcher.cache.entries.get(url, {}).get("kind", "page")
        read = WebRead(kind, fetched=1)
        if kind == "page":
            read.unchanged = {_held_doc(fetcher, url)} & held
        else:
            read.all_unchanged = True
        return read
    kind = kind_of(response)
    read = WebRead(kind, fetched=1)
    if kind == "page":
        doc = _page(response, url, cleaner, fetcher, read.problems)
        if _claims_another(doc, stored):
            doc = _at_own_address(doc, url, fetcher, read.problems)
        read.documents.append(doc)
        return read
    if kind == "feed":
        links = feed_links(response, items)
    else:
        links, nested = sitemap_links(response, items)
        for sitemap in nested[:MAX_NESTED_SITEMAPS]:
            if len(links) >= items:
                break
            if budget is not None and budget.spent():
                read.problems.append(Problem(sitemap, budget.reason))
                continue
            try:
                more, _ = sitemap_links(fetcher.get(sitemap), items - len(links))
            except FetchError as exc:
                read.problems.append(Problem(sitemap, exc.reason))
                continue
            links += more
    links = list({article_key(link.url): link for link in links}.values())
    if kind == "sitemap":
        # Sitemaps list a site's every page: its home and section fronts are not articles.
        fronts = [link for link in links if section_front(link.url)]
        read.problems += [Problem(link.url, "a section front page, not an article") for link in fronts]
        links = [link for link in links if link not in fronts]
    read.listed = len(links)
    items = _read_items(links, fetcher, cleaner, held, read, progress, budget, stored)
    if url in fetcher.cache.entries:
        # What the feed listed, by the article each item became: a later 304 is trusted only
        # while the index holds every one of them (an item that failed, or an article a
        # rollback or a lost write took away, makes the next sync read the feed again).
        fetcher.cache.entries[url].update(kind=kind, items=items)
    return read


_ARTICLE_LIKE = re.compile(r"[-_.\d]")


def section_front(url: str) -> bool:
    """Whether ``url`` looks like a site's home or section front page (``/``, ``/sports/``,
    ``/news/world``) rather than an article: no query, and no segment of its path with
    a hyphen, an underscore, a dot or a digit, as article slugs, ids, dates and file names
    have (``/news/council-bans-face-recognition``, ``/2024/05/01/story``, ``/a/123``)."""
    parts = urlsplit(url)
    return not parts.query and not any(_ARTICLE_LIKE.search(seg) for seg in parts.path.split("/"))


def _may_skip(fetcher: Fetcher, url: str, held: set[str]) -> bool:
    """A conditional GET is safe only when a 304 would leave the index holding the content."""
    entry = fetcher.cache.entries.get(url)
    if not entry:
        return False
    if entry.get("kind", "page") == "page":
        return entry.get("doc") in held
    items = entry.get("items")
    return bool(held) and isinstance(items, list) and set(items) <= held


def _listed_date(link: Link, problems: list[Problem]) -> datetime | None:
    """When the feed item (or news sitemap entry) says the story was published: the
    article's date when its page gives none (undated, a story is out of every date
    filter, every "as of" and every timeline). A date in the future is no date (said)."""
    published = parse_date(link.published) if link.published else None
    if published is not None and in_future(published):
        problems.append(
            Problem(link.url, f"listed as published {published.date().isoformat()}, in the future; not used", False)
        )
        return None
    return published


def stable_text(doc: Document) -> str:
    """What makes two fetched pages one story: their title and text, not where each was read."""
    return f"{doc.title}\n{doc.text}"


def _own_addresses(results: list, fetcher: Fetcher, stored: Stored | None = None) -> list:
    """Items whose pages name one address (a same-site canonical link) but differ in text
    are different stories: each is cited at, and identified by, the address it was
    fetched from, so none is lost or shown at another's link. Same text under one address
    stays one article (the indexer keeps the first). ``stored``: the article the index
    holds under an id, to tell a story naming an earlier one's address (another link,
    another text) from that story edited."""
    texts: dict[str, set[str]] = {}  # id -> the texts fetched under it
    for _, doc, *_ in results:
        if doc is not None:
            texts.setdefault(doc.id, set()).add(stable_text(doc))
    shared = {doc_id for doc_id, hashes in texts.items() if len(hashes) > 1}
    out = []
    for link, doc, reason, unchanged, warnings in results:
        if doc is not None and (doc.id in shared or _claims_another(doc, stored)):
            warnings = list(warnings)
            doc = _at_own_address(doc, link.url, fetcher, warnings)
        out.append((link, doc, reason, unchanged, warnings))
    return out


Stored = Callable[[str], "Document | None"]


def _claims_another(doc: Document, stored: Stored | None) -> bool:
    """Whether the index holds another story under ``doc``'s id: read from another link,
    with another text."""
    if stored is None or not doc.url:
        return False
    held = stored(doc.id)
    return held is not None and held.source != doc.source and stable_text(held) != stable_text(doc)


def _at_own_address(doc: Document, url: str, fetcher: Fetcher, problems: list[Problem]) -> Document:
    """``doc``, fetched from ``url``, cited at and identified by that address (said in ``problems``)."""
    problems.append(
        Problem(url, f"names {doc.url} as its address, as another story does; cited at the address it came from", False)
    )
    doc = dataclasses.replace(doc, url=url, id=doc_id(url, doc.source))
    entry = fetcher.cache.entries.get(url)
    if entry is not None:
        entry["doc"] = doc.id
    if url in fetcher.pages:  # another source listing it in this sync gets this one
        _, reason, unchanged = fetcher.pages[url]
        fetcher.pages[url] = (doc, reason, unchanged)
    return doc


def _held_doc(fetcher: Fetcher, url: str) -> str:
    return fetcher.cache.entries.get(url, {}).get("doc", "")


def _page(
    response: Response,
    url: str,
    cleaner: Cleaner,
    fetcher: Fetcher,
    problems: list[Problem],
    listed: datetime | None = None,
) -> Document:
    """The article in a response already known to be a page; field warnings go to ``problems``.
    ``listed``: the date the feed or sitemap that listed it gives."""
    fields = Fields(url, cleaner, problems)
    try:
        doc = html_document(cleaner, decoded(response), url, fields, page_url=response.url, listed=listed)
    except UnreadableError as exc:
        raise FetchError(str(exc)) from None
    doc = _where_it_came_from(doc, response, fields)
    entry = fetcher.cache.entries.get(url)
    if entry is not None:
        entry["doc"] = doc.id
        entry["kind"] = "page"
    return doc


def _where_it_came_from(doc: Document, response: Response, fields: Fields) -> Document:
    """The page's claims about itself, kept only where they are believable (issue 25 #4).

    A canonical link on another site than the one the page came from (after redirects)
    is not the article's link, nor its identity: any host could otherwise cite its text
    as Reuters's and have the real article merged into it later. It is kept as a note
    (a warning on the source); the article is cited at, and identified by, the address
    it was fetched from. The claimed site name is shown with the real site beside it
    unless it is plausibly that site's (:func:`retrieval.ingest.web.sites.outlet_for`)."""
    fetched = response.url
    url, identity = doc.url, doc.id
    if url and not same_site(url, fetched):
        fields.warn(f"names {url} as its address, on another site; cited at the address it came from")
        url = fetched
        identity = fields.doc_id(url, doc.source)
    elif url and section_front(url) and not section_front(fetched):
        # A story whose canonical link is its site's home or a section front (a common
        # template slip): every story would be one article, at an address without it.
        fields.warn(f"names its site's front page {url} as its address; cited at the address it came from")
        url = fetched
        identity = fields.doc_id(url, doc.source)
    outlet = outlet_for(doc.outlet, fetched)
    if (url, identity, outlet) == (doc.url, doc.id, doc.outlet):
        return doc
    return dataclasses.replace(doc, url=url, id=identity, outlet=outlet)


def _read_items(
    links: list[Link],
    fetcher: Fetcher,
    cleaner: Cleaner,
    held: set[str],
    read: WebRead,
    progress: Callable[[int, int], None] | None,
    budget: SyncBudget | None = None,
    stored: Stored | None = None,
) -> list[str]:
    """Fetch the items; returns the id each became (a failed item, or one left for the next
    sync when ``budget`` is spent: an id no article has, so the feed's 304 is not trusted
    until the index holds it)."""

    def one(link: Link) -> tuple[Link, Document | None, str | None, bool, list[Problem]]:
        seen = fetcher.pages.get(link.url)
        if seen is not None:  # another source listed it in this sync: fetched once, said once
            doc, reason, unchanged = seen
            return link, doc, reason and "", unchanged, []
        link, doc, reason, unchanged, problems = fetch(link)
        fetcher.pages[link.url] = (doc, reason, unchanged)
        return link, doc, reason, unchanged, problems

    def fetch(link: Link) -> tuple[Link, Document | None, str | None, bool, list[Problem]]:
        problems: list[Problem] = []
        if budget is not None and budget.spent():
            return link, None, budget.reason, False, problems
        try:
            response = fetcher.get(link.url, conditional=_may_skip(fetcher, link.url, held))
            if response.not_modified:
                return link, None, None, True, problems
            kind = kind_of(response)
            if kind != "page":
                raise FetchError(f"a {kind}, not an article page")
            doc = _page(response, link.url, cleaner, fetcher, problems, _listed_date(link, problems))
            return link, doc, None, False, problems
        except FetchError as exc:
            return link, None, exc.reason, False, problems
        except Exception as exc:  # noqa: BLE001 - a surprise in one item costs that item only, named
            return link, None, f"could not be read ({type(exc).__name__}: {exc})", False, problems

    done = 0
    items: list[str] = []
    workers = max(1, min(fetcher.settings.concurrency, len(links)))
    results = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sourced-fetch") as pool:
        for result in pool.map(one, links):
            results.append(result)
            done += 1
            if progress:
                progress(done, len(links))
    for link, doc, reason, unchanged, warnings in _own_addresses(results, fetcher, stored):
        left = budget is not None and doc is None and reason == budget.reason
        read.fetched += 0 if left else 1
        read.problems += warnings  # collected here, in one thread
        if unchanged:
            items.append(_held_doc(fetcher, link.url) or doc_id(link.url, link.url))
            read.unchanged.add(items[-1])
        elif doc is not None:
            items.append(doc.id)
            read.documents.append(doc)
        else:
            items.append(f"unread:{link.url}")
            if reason != "":  # "": named already, by the source that listed it first
                read.problems.append(Problem(link.url, reason or "could not be read"))
    return items
