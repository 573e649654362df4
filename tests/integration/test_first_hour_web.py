"""Issue 27, items 8 and 11, through the CLI against the news site on 127.0.0.1
(tests/webserver.py): a sitemap's section fronts are not articles; a sitemap that shares
its items with a feed is not downloaded again while unchanged; one page, one fetch a sync."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from tests.webserver import ARTICLES, NewsSite, Route, article_page


@pytest.fixture
def site():
    with NewsSite() as s:
        urls = [f"{s.url}/news/{slug}" for slug in ARTICLES] + [f"{s.url}/sports/", f"{s.url}/", f"{s.url}/world"]
        body = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
        s.routes["/sitemap.xml"] = Route(
            content_type="application/xml",
            body=f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'.encode(),
            etag='"sitemap-1"',
        )
        # A section front with enough text that it would pass as an article.
        front = article_page("sports", "Sport", ["Latest sport news, results and fixtures from the city. " * 5])
        for path in ("/sports/", "/", "/world"):
            s.routes[path] = Route(body=front.encode())
        yield s


@pytest.fixture
def cli(tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text("embedding:\n  model: hash\nweb:\n  timeout_seconds: 1\n  host_delay_seconds: 0\n")
    monkeypatch.setenv("SOURCED_CONFIG", str(config))
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setenv("COLUMNS", "1000")

    def run(*args: str):
        result = CliRunner().invoke(main, list(args))
        assert "Traceback" not in result.output, result.output
        return result

    return run


def page_hits(site) -> dict[str, int]:
    return {path: n for path, n in site.hits.items() if path.startswith("/news/") and n}


def test_a_sitemaps_section_fronts_are_named_and_not_indexed(site, cli):
    added = cli("add", f"{site.url}/sitemap.xml")
    assert added.exit_code == 0, added.output
    for front in (f"{site.url}/sports/", f"{site.url}/", f"{site.url}/world"):
        assert f"skipped: {front}: a section front page, not an article" in added.output
    articles = json.loads(cli("sources", "--json").stdout)["articles"]
    assert sorted(a["url"] for a in articles) == sorted(f"{site.url}/news/{slug}" for slug in ARTICLES)
    assert site.hits["/sports/"] == site.hits["/"] == site.hits["/world"] == 0  # not even fetched
    site.hits.clear()
    again = cli("index")  # unchanged: the fronts do not make the sitemap look unread
    assert again.exit_code == 0 and "section front" not in again.output, again.output
    assert site.conditional_hits["/sitemap.xml"] == 1 and page_hits(site) == {}


def test_a_sitemap_sharing_its_items_with_a_feed_gets_304_and_its_pages_are_not_fetched(site, cli):
    assert cli("add", f"{site.url}/feed.xml").exit_code == 0
    both = cli("add", f"{site.url}/sitemap.xml")  # the feed's three stories: indexed once, under the feed
    assert both.exit_code == 0 and "indexed once" in both.output, both.output
    for _ in range(2):
        site.hits.clear()
        site.conditional_hits.clear()
        synced = cli("index")
        assert synced.exit_code == 0, synced.output
        assert site.conditional_hits["/sitemap.xml"] == 1 and site.conditional_hits["/feed.xml"] == 1
        assert page_hits(site) == {}, "the feed's and the sitemap's 304s are trusted: no page is fetched"
    # Removing the feed still leaves the stories with the sitemap (it still knows it lists them).
    assert "3 stay, held by another source" in cli("remove", f"{site.url}/feed.xml").output


def test_a_page_a_feed_and_a_sitemap_both_list_is_fetched_once_in_a_sync(site, cli):
    site.routes["/feed.xml"].etag = None  # a feed without validators: read whole every sync
    assert cli("add", f"{site.url}/feed.xml", f"{site.url}/sitemap.xml").exit_code == 0
    assert set(page_hits(site).values()) == {1}, page_hits(site)
    site.routes["/sitemap.xml"].etag = '"sitemap-2"'  # changed: read whole too
    site.hits.clear()
    synced = cli("index")
    assert synced.exit_code == 0, synced.output
    assert site.hits["/feed.xml"] == site.hits["/sitemap.xml"] == 1
    assert set(page_hits(site).values()) == {1} and len(page_hits(site)) == len(ARTICLES), page_hits(site)
