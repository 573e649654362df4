"""Pages, feeds and sitemaps as sources, against a news site on 127.0.0.1 (tests/webserver.py)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from retrieval.config import replace
from retrieval.ingest.indexer import Indexer
from retrieval.store import FolderStore
from tests.helpers import CountingEmbedder, service_for
from tests.webserver import ARTICLES, SLOW_SECONDS, NewsSite, Route, rss


@pytest.fixture
def site():
    with NewsSite() as s:
        yield s


@pytest.fixture
def web_config(hash_config):
    # Fast timeouts against loopback; no politeness delay between test requests.
    return replace(hash_config, web={"timeout_seconds": SLOW_SECONDS / 3, "host_delay_seconds": 0.0})


def indexer(config, tmp_path):
    return Indexer(config, FolderStore(tmp_path / "idx"), CountingEmbedder())


def test_an_article_page_becomes_one_clean_article_with_its_own_link(site, web_config, tmp_path):
    report = indexer(web_config, tmp_path).add([f"{site.url}/news/council-bans-face-recognition"])
    assert report.added == 1 and not report.problems
    (doc,) = FolderStore(tmp_path / "idx").open().documents()
    assert doc.title == "Council bans facial recognition in city departments"
    # A site name that is not plausibly 127.0.0.1's is shown beside the real site (issue 25 #4).
    assert doc.outlet == f"The Daily Bugle ({site.url.removeprefix('http://')})"
    assert doc.published is not None and doc.published.date().isoformat() == "2024-05-01"
    assert doc.url == f"{site.url}/news/council-bans-face-recognition"  # the canonical link
    assert "first such ban in the state" in doc.text
    for furniture in ("Most read", "Celebrity chef", "newsletter", "Copyright", "Subscribe", "Jane Doe"):
        assert furniture not in doc.text
    assert any(ua.startswith("sourced/") for ua in site.user_agents)


@pytest.mark.parametrize("feed", ["/feed.xml", "/atom.xml", "/sitemap.xml"])
def test_a_feed_or_sitemap_brings_every_item_as_an_article(site, web_config, tmp_path, feed):
    report = indexer(web_config, tmp_path).add([site.url + feed])
    expected = 2 if feed == "/atom.xml" else 3
    assert report.added == expected and not report.problems
    (source,) = report.sources
    assert source.kind == {"/feed.xml": "feed", "/atom.xml": "feed", "/sitemap.xml": "sitemap"}[feed]
    urls = {d.url for d in FolderStore(tmp_path / "idx").open().documents()}
    assert f"{site.url}/news/council-bans-face-recognition" in urls
    answer = service_for(web_config, tmp_path / "idx").ask("council vote facial recognition ban")
    assert answer.hits[0].document.title == "Council bans facial recognition in city departments"


def test_unchanged_pages_and_feeds_are_not_downloaded_again(site, web_config, tmp_path):
    site.page(
        "tram-strike",
        "Tram drivers strike",
        ["Tram drivers walked out on Friday."],
        last_modified="Wed, 01 May 2024 09:30:00 GMT",
    )
    idx = indexer(web_config, tmp_path)
    idx.add([f"{site.url}/feed.xml", f"{site.url}/news/tram-strike"])
    assert site.conditional_hits["/feed.xml"] == 0
    report = idx.run()
    # The feed (ETag) and the page (Last-Modified) answered 304: nothing re-read or written.
    assert site.conditional_hits["/feed.xml"] == 1
    assert site.conditional_hits["/news/tram-strike"] == 1
    assert site.hits["/news/council-bans-face-recognition"] == 1  # the feed was not re-walked
    assert (report.added, report.updated, report.removed) == (0, 0, 0) and not report.written
    assert report.unchanged == 4


def test_a_changed_feed_adds_what_is_new_and_keeps_what_it_no_longer_lists(site, web_config, tmp_path):
    from tests.webserver import Route, rss

    idx = indexer(web_config, tmp_path)
    idx.add([f"{site.url}/feed.xml"])
    site.page("new-ferry-route", "New ferry route to the islands", ["A new ferry route opens in June."], etag='"f1"')
    site.routes["/feed.xml"] = Route(
        content_type="application/rss+xml",
        body=rss(["new-ferry-route", "library-extends-hours"], site.url).encode(),
        etag='"feed-2"',
    )
    report = idx.run()
    assert (report.added, report.removed) == (1, 0)
    assert site.conditional_hits["/news/library-extends-hours"] == 1  # re-checked, 304
    titles = {d.title for d in FolderStore(tmp_path / "idx").open().documents()}
    assert len(titles) == 4 and "New ferry route to the islands" in titles


FAILURES = {
    "/slow": "timed out",
    "/huge": "larger than the",
    "/loop-a": "too many redirects",
    "/missing": "HTTP 404",
    "/broken": "HTTP 500",
    "/report.pdf": "not an article page, feed or sitemap (application/pdf)",
    "/junk": "binary content sent as text/html",
    "/private/memo": "disallowed by robots.txt",
    # Hostile servers (issue 25): cut off by the request's deadline, or by the size cap
    # counted as the body is decompressed.
    "/trickle-headers": "timed out (not finished within 1 s)",
    "/trickle-body": "timed out (not finished within 1 s)",
    "/gzip-bomb": "larger than the 1 MB limit once decompressed",
    "/gzip-bomb-double": "larger than the 1 MB limit once decompressed",
}


def test_each_failure_is_named_with_its_reason_and_the_rest_is_indexed(site, web_config, tmp_path):
    from tests.webserver import Route, rss

    body = rss(["council-bans-face-recognition"], site.url)
    links = "".join(f"<item><title>{p}</title><link>{site.url}{p}</link></item>" for p in FAILURES)
    site.routes["/mixed.xml"] = Route(
        content_type="application/rss+xml", body=body.replace("</channel>", links + "</channel>").encode()
    )
    small = replace(web_config, web={"max_megabytes": 1.0})
    report = indexer(small, tmp_path).add([f"{site.url}/mixed.xml"])
    assert report.added == 1
    reasons = {p.source.removeprefix(site.url): p.reason for p in report.problems}
    for path, reason in FAILURES.items():
        assert reason in reasons[path], (path, reasons[path])
    assert site.hits["/private/memo"] == 0  # robots.txt was obeyed, not just reported
    assert site.hits["/robots.txt"] == 1  # and read once per sync


def test_cli_add_url_exit_codes(site, web_config, tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text(
        "embedding:\n  model: hash\nweb:\n  timeout_seconds: 1\n  host_delay_seconds: 0\n", encoding="utf-8"
    )
    monkeypatch.setenv("SOURCED_CONFIG", str(config))
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "cli-idx"))
    run = CliRunner().invoke
    ok = run(main, ["add", f"{site.url}/news/harbour-bridge-reopens"])
    assert ok.exit_code == 0, ok.output
    bad = run(main, ["add", f"{site.url}/broken"])
    assert bad.exit_code == 2 and "HTTP 500" in bad.output and "Traceback" not in bad.output
    strict = run(main, ["add", "--strict", f"{site.url}/atom.xml", f"{site.url}/report.pdf"])
    assert strict.exit_code == 3, strict.output
    data = json.loads(run(main, ["sources", "--json"]).stdout)
    kinds = {s["path"].removeprefix(site.url): s["kind"] for s in data["sources"]}
    assert kinds == {"/news/harbour-bridge-reopens": "page", "/atom.xml": "feed"}
    removed = run(main, ["remove", f"{site.url}/atom.xml"])
    assert removed.exit_code == 0, removed.output
    assert len(json.loads(run(main, ["sources", "--json"]).stdout)["articles"]) == 1


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/gzip-bomb-double", "larger than the 10 MB limit once decompressed"), ("/trickle-headers", "timed out")],
)
def test_cli_add_of_a_hostile_server_is_one_line_and_exit_2(site, tmp_path, monkeypatch, path, reason):
    config = tmp_path / "config.yaml"
    config.write_text(
        "embedding:\n  model: hash\nweb:\n  timeout_seconds: 1\n  host_delay_seconds: 0\n", encoding="utf-8"
    )
    monkeypatch.setenv("SOURCED_CONFIG", str(config))
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "cli-idx"))
    result = CliRunner().invoke(main, ["add", site.url + path])
    assert result.exit_code == 2, result.output
    assert reason in " ".join(result.output.split()) and "Traceback" not in result.output  # unwrapped


def test_a_registered_feed_that_goes_down_keeps_its_articles(site, web_config, tmp_path):
    idx = indexer(web_config, tmp_path)
    idx.add([f"{site.url}/atom.xml"])
    del site.routes["/atom.xml"]
    report = idx.run()
    (source,) = report.sources
    assert source.status == "unreadable" and "HTTP 404" in source.reason and source.articles == 2
    assert len(FolderStore(tmp_path / "idx").open().documents()) == 2


def test_one_host_is_asked_one_request_at_a_time(site, web_config, tmp_path):
    from tests.webserver import Route, rss

    slugs = [f"slow-{i}" for i in range(6)]
    for slug in slugs:
        site.page(slug, f"Story {slug}", [f"Body of {slug} with enough words to be an article."])
        site.routes[f"/news/{slug}"].delay = 0.05  # long enough for requests to overlap if allowed
    site.routes["/slow-feed.xml"] = Route(content_type="application/rss+xml", body=rss(slugs, site.url).encode())
    config = replace(web_config, web={"concurrency": 4})
    report = indexer(config, tmp_path).add([f"{site.url}/slow-feed.xml"])
    assert report.added == 6
    assert site.most_in_flight == 1  # concurrency spans hosts; one host gets one request at a time


def test_a_host_that_is_down_is_named_as_down_not_as_disallowed(web_config, tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report = indexer(web_config, tmp_path).add([f"http://127.0.0.1:{port}/feed.xml"])
    (source,) = report.sources
    assert source.status == "unreadable"
    assert source.reason.startswith("could not connect") and "robots.txt could not be read" in source.reason


def test_a_page_without_a_site_name_is_named_by_its_site(site, web_config, tmp_path):
    from tests.webserver import Route

    html = (
        "<html><head><title>Tram drivers strike</title></head><body><article><h1>Tram drivers strike</h1>"
        "<p>Tram drivers walked out on Friday over pay, the union said, and no trams ran all day.</p>"
        "<p>The operator said talks would resume on Monday.</p></article></body></html>"
    )
    site.routes["/plain"] = Route(body=html.encode())
    indexer(web_config, tmp_path).add([f"{site.url}/plain"])
    (doc,) = FolderStore(tmp_path / "idx").open().documents()
    assert doc.outlet == site.url.removeprefix("http://") and doc.url == f"{site.url}/plain"  # host:port


def _titles(tmp_path) -> set[str]:
    snap = FolderStore(tmp_path / "idx").open()
    try:
        return {d.title for d in snap.documents()}
    finally:
        snap.close()


def test_a_feed_item_that_failed_once_is_fetched_at_the_next_sync(site, web_config, tmp_path):
    # issue 25 #1: the feed has an ETag; its item 2 answers 503 when the feed is added.
    slug = "library-extends-hours"
    good = site.routes[f"/news/{slug}"]
    site.routes[f"/news/{slug}"] = Route(status=503, body=b"<html><body>busy</body></html>")
    idx = indexer(web_config, tmp_path)
    first = idx.add([f"{site.url}/feed.xml"])
    assert any(p.source.endswith(slug) for p in first.problems)
    missing = len(_titles(tmp_path))
    site.routes[f"/news/{slug}"] = good  # back; the feed itself is unchanged (same ETag)
    idx.run()
    assert len(_titles(tmp_path)) == missing + 1
    assert site.hits[f"/news/{slug}"] == 2  # asked again, not skipped behind the feed's 304
    idx.run()  # now that the index holds every item, the feed's 304 is trusted again
    assert site.hits["/news/council-bans-face-recognition"] == 2  # checked by the full read, not a third time


def _new_item_in_the_feed(site) -> None:
    site.page("new-ferry-route", "New ferry route to the islands", ["A new ferry route opens in June."])
    site.routes["/feed.xml"] = Route(
        content_type="application/rss+xml",
        body=rss(["new-ferry-route", *ARTICLES], site.url).encode(),
        etag='"feed-2"',
    )


def test_what_a_rollback_undid_comes_back_while_the_feed_is_unchanged(site, web_config, tmp_path):
    idx = indexer(web_config, tmp_path)
    idx.add([f"{site.url}/feed.xml"])
    _new_item_in_the_feed(site)
    idx.run()
    before = _titles(tmp_path)
    assert "New ferry route to the islands" in before
    idx.rollback()  # undoes the sync that brought the new item; the feed stays registered
    assert "New ferry route to the islands" not in _titles(tmp_path)
    idx.run()  # the feed would answer 304 to the validators of the undone sync
    assert _titles(tmp_path) == before


def test_a_write_that_fails_keeps_no_validators_for_what_it_did_not_write(site, web_config, tmp_path, monkeypatch):
    from retrieval.errors import IndexWriteError

    idx = indexer(web_config, tmp_path)
    idx.add([f"{site.url}/feed.xml"])
    _new_item_in_the_feed(site)
    real_commit = idx.store.commit

    def full_disk(*args, **kwargs):
        raise IndexWriteError("Could not write the index (No space left on device); the previous index is unchanged.")

    monkeypatch.setattr(idx.store, "commit", full_disk)
    with pytest.raises(IndexWriteError):
        idx.run()
    monkeypatch.setattr(idx.store, "commit", real_commit)
    idx.run()  # the new item is fetched: the failed write left no validators that skip it
    assert "New ferry route to the islands" in _titles(tmp_path)


def _budget_config(tmp_path, budget: float) -> None:
    (tmp_path / "config.yaml").write_text(
        "embedding:\n  model: hash\nweb:\n  timeout_seconds: 5\n  host_delay_seconds: 0\n"
        f"  sync_budget_seconds: {budget}\n",
        encoding="utf-8",
    )


def test_a_sync_whose_budget_runs_out_names_what_it_left_and_the_next_sync_fetches_it(site, tmp_path, monkeypatch):
    # issue 25 #11: a feed (with an ETag) of slow items, more than the budget allows.
    paths = site.slow_feed(6, delay=0.4)
    _budget_config(tmp_path, 0.5)
    monkeypatch.setenv("SOURCED_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "cli-idx"))
    run = CliRunner().invoke
    first = run(main, ["add", f"{site.url}/budget-feed.xml"])
    assert first.exit_code == 0, first.output
    fetched = {p for p in paths if site.hits[p]}
    left = set(paths) - fetched
    assert fetched and left  # the first item is always started; the budget stopped the rest
    output = " ".join(first.output.split())
    for path in left:  # each named, once, as left for the next sync
        assert output.count(f"skipped: {site.url}{path}: left for the next sync") == 1
    for path in fetched:
        assert f"{site.url}{path}:" not in output
    held = {a["url"].removeprefix(site.url) for a in json.loads(run(main, ["sources", "--json"]).stdout)["articles"]}
    assert held == fetched
    # The next sync, with time to spare: the feed is unchanged (its ETag would answer 304),
    # but it is read again because the index lacks items it lists, and they are fetched.
    _budget_config(tmp_path, 600)
    second = run(main, ["index"])
    assert second.exit_code == 0 and "left for the next sync" not in second.output, second.output
    assert site.conditional_hits["/budget-feed.xml"] == 0
    assert all(site.hits[p] == 1 for p in left)
    held = {a["url"].removeprefix(site.url) for a in json.loads(run(main, ["sources", "--json"]).stdout)["articles"]}
    assert held == set(paths)
    run(main, ["index"])  # every item held: the feed's 304 is trusted again
    assert site.conditional_hits["/budget-feed.xml"] == 1


def test_a_source_not_started_within_the_budget_keeps_its_articles_and_is_read_next_time(site, web_config, tmp_path):
    site.slow_feed(3, delay=0.4)
    idx = indexer(web_config, tmp_path)
    idx.add([f"{site.url}/budget-feed.xml", f"{site.url}/atom.xml"])
    site.routes["/budget-feed.xml"].etag = None  # re-read in full, slowly, at every sync
    short = Indexer(replace(web_config, web={"sync_budget_seconds": 0.2}), idx.store, CountingEmbedder())
    report = short.run()
    feed, atom_feed = report.sources
    assert feed.status == "synced"
    assert atom_feed.status == "deferred" and "left for the next sync" in atom_feed.reason
    assert atom_feed.articles == 2  # its articles stay
    hits = site.hits["/atom.xml"]
    assert indexer(web_config, tmp_path).run().sources[1].status == "synced"
    assert site.hits["/atom.xml"] == hits + 1
