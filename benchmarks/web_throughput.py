#!/usr/bin/env python
"""Pages per second through the web-source path, from a news site on 127.0.0.1.

Serves N generated article pages (real page furniture, see tests/webserver.py) and an RSS
feed listing them, then measures in one run:
  1. extraction alone (trafilatura + cleaning) over the N pages already in memory;
  2. a feed sync: fetch the feed, fetch and extract every page (no politeness delay,
     web.concurrency requests in flight), as `sourced add FEED` does before embedding;
  3. a second sync of the same feed, answered 304 Not Modified.

    .venv/bin/python -m benchmarks.web_throughput [N] [CONCURRENCY]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from retrieval.ingest.clean import Cleaner
from retrieval.ingest.readers.fields import Fields
from retrieval.ingest.readers.formats import html_document
from retrieval.ingest.web.fetch import Fetcher, FetchSettings
from retrieval.ingest.web.source import read_web_source
from tests.webserver import ARTICLES, NewsSite, Route, article_page, rss

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    cleaner = Cleaner()
    bodies = [body for _, body in ARTICLES.values()]
    with NewsSite() as site:
        slugs = []
        for i in range(n):
            slug = f"story-{i}"
            paragraphs = [f"Story {i}: {p}" for b in bodies for p in b] * 2  # ~600 words, like a news article
            site.page(slug, f"Story number {i} from the wire", paragraphs, etag=f'"s{i}"')
            slugs.append(slug)
        site.routes["/big-feed.xml"] = Route(
            content_type="application/rss+xml", body=rss(slugs, site.url).encode(), etag='"big"'
        )
        pages = [article_page(s, f"Story number {i}", [p for b in bodies for p in b] * 2) for i, s in enumerate(slugs)]

        started = time.perf_counter()
        for i, html in enumerate(pages):
            html_document(cleaner, html, f"p{i}", Fields(f"p{i}", cleaner, []), page_url=f"{site.url}/news/{i}")
        extract = time.perf_counter() - started

        settings = FetchSettings(host_delay=0.0, concurrency=concurrency, timeout=10)
        with Fetcher(settings) as fetcher:
            started = time.perf_counter()
            read = read_web_source(f"{site.url}/big-feed.xml", fetcher, cleaner, held=(), items=n)
            sync = time.perf_counter() - started
            held = {d.id for d in read.documents}
            started = time.perf_counter()
            again = read_web_source(f"{site.url}/big-feed.xml", fetcher, cleaner, held=held, items=n)
            unchanged = time.perf_counter() - started
    assert len(read.documents) == n and not read.problems, read.problems[:3]
    assert again.all_unchanged
    print(f"{n} pages, concurrency {concurrency}, loopback, {time.strftime('%Y-%m-%d')}")
    print(f"  extraction only:        {n / extract:7.1f} pages/s ({extract:.2f} s)")
    print(
        f"  feed sync (fetch+extract): {n / sync:7.1f} pages/s ({sync:.2f} s; ratio to extraction {extract / sync:.2f})"
    )
    print(f"  unchanged feed (304):   {unchanged * 1000:7.1f} ms for the whole feed")


if __name__ == "__main__":
    main()
