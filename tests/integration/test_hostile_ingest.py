"""Issue 25, through the CLI against the news site on 127.0.0.1 (tests/webserver.py) and
folders: empty feeds and feeds with a lying content type (#3), spoofed citations (#4), and
`sourced remove` of a source whose articles another source also holds (#2)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from tests.webserver import ARTICLES, NewsSite, Route, atom, rss


@pytest.fixture
def site():
    with NewsSite() as s:
        yield s


@pytest.fixture
def cli(tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text(
        "embedding:\n  model: hash\nweb:\n  timeout_seconds: 1\n  host_delay_seconds: 0\n", encoding="utf-8"
    )
    monkeypatch.setenv("SOURCED_CONFIG", str(config))
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "idx"))

    def run(*args: str):
        result = CliRunner().invoke(main, list(args))
        assert "Traceback" not in result.output, result.output
        return result

    return run


def articles(cli) -> list[dict]:
    return json.loads(cli("sources", "--json").stdout)["articles"]


def sources(cli) -> dict[str, dict]:
    return {s["path"]: s for s in json.loads(cli("sources", "--json").stdout)["sources"]}


# ---------------------------------------------------------------------- #3 empty feeds


@pytest.mark.parametrize("path, make", [("/empty-rss.xml", rss), ("/empty-atom.xml", atom)])
def test_an_empty_feed_is_registered_and_its_items_come_at_the_next_sync(site, cli, path, make):
    added = cli("add", site.url + path)
    assert added.exit_code == 0, added.output
    assert "no items yet" in added.output and "not a readable feed" not in added.output
    assert sources(cli)[site.url + path]["kind"] == "feed"
    kind = "application/rss+xml" if make is rss else "application/atom+xml"
    site.routes[path] = Route(content_type=kind, body=make(["harbour-bridge-reopens"], site.url).encode())
    synced = cli("index")
    assert synced.exit_code == 0, synced.output
    assert [a["title"] for a in articles(cli)] == [ARTICLES["harbour-bridge-reopens"][0]]


@pytest.mark.parametrize("path", ["/feed-as-text", "/feed-as-html"])
def test_a_feed_sent_as_text_or_html_is_read_by_its_content(site, cli, path):
    added = cli("add", site.url + path)
    assert added.exit_code == 0, added.output
    assert sources(cli)[site.url + path]["kind"] == "feed"
    assert len(articles(cli)) == 2


def test_what_is_not_a_feed_is_still_refused(site, cli):
    site.routes["/broken-feed.xml"] = Route(
        content_type="application/rss+xml", body=b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</ti'
    )
    refused = cli("add", f"{site.url}/broken-feed.xml")
    assert refused.exit_code == 2 and "not a readable feed" in refused.output
    assert sources(cli) == {}
