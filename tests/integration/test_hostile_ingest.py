"""Issue 25, through the CLI against the news site on 127.0.0.1 (tests/webserver.py) and
folders: empty feeds and feeds with a lying content type (#3), spoofed citations (#4), and
`sourced remove` of a source whose articles another source also holds (#2)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from tests.webserver import ARTICLES, NewsSite, Route, article_page, atom, rss


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
    monkeypatch.setenv("COLUMNS", "1000")  # one message, one line: asserted whole

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


# ---------------------------------------------------------------------- #4 spoofed citations


def ask_json(cli, question: str) -> dict:
    result = cli("ask", "--json", question)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_page_cannot_cite_itself_as_another_site_nor_swallow_the_real_article(site, cli):
    hostile = f"{site.url}/hostile/spoof"
    port = site.url.rsplit(":", 1)[1]
    added = cli("add", hostile)
    assert added.exit_code == 0, added.output
    assert f"names {site.spoofed_url} as its address, on another site" in added.output  # kept as a note
    (hit, *_) = ask_json(cli, "port workers end strike")["hits"]
    assert hit["url"] == hostile  # where the text really came from
    assert hit["outlet"] == f"Reuters (127.0.0.1:{port})"  # the claim, beside the real site
    shown = cli("ask", "port workers end strike", "-k", "1").stdout
    assert hostile in shown and site.spoofed_url not in shown

    # The real article, on the site the hostile page named: its own article, not merged.
    real = cli("add", site.spoofed_url)
    assert real.exit_code == 0, real.output
    assert "same article" not in real.output and "indexed once" not in real.output
    urls = sorted(a["url"] for a in articles(cli))
    assert urls == sorted([hostile, site.spoofed_url])
    # `--outlet Reuters` means the real one, not a page that only claims to be it; the
    # claim is still found by its full name.
    only = json.loads(cli("ask", "--json", "port workers end strike", "--outlet", "Reuters").stdout)
    assert hostile not in [h["url"] for h in only["hits"]]
    named = json.loads(cli("ask", "--json", "port workers end strike", "--outlet", "Reuters (127.0.0.1").stdout)
    assert [h["url"] for h in named["hits"]] == [hostile]


def test_a_canonical_link_on_the_same_site_is_still_the_citation(site, cli):
    from tests.webserver import REAL_STORY, hostile_page

    site.routes["/amp/story"] = Route(body=hostile_page(f"{site.url}/news/the-story", "127.0.0.1").encode())
    added = cli("add", f"{site.url}/amp/story")
    assert added.exit_code == 0 and "another site" not in added.output, added.output
    (article,) = articles(cli)
    assert article["url"] == f"{site.url}/news/the-story" and article["title"] == REAL_STORY[0]


def _canonical(site, slug: str, canonical: str) -> None:
    title, body = ARTICLES[slug]
    html = article_page(slug, title, body).replace(
        f'<link rel="canonical" href="/news/{slug}">', f'<link rel="canonical" href="{canonical}">'
    )
    site.routes[f"/news/{slug}"] = Route(body=html.encode())


def _absolute(site, path: str) -> str:
    return site.url + path  # trafilatura reads a relative canonical link as the page's own


@pytest.mark.parametrize("canonical", ["/", "/news/latest-story"])
def test_stories_naming_one_address_are_each_their_own_article_and_no_sync_fails(site, cli, canonical):
    # Every story of a feed naming the site's home page (or one story) as its canonical
    # link: one id for three texts made every later sync fail (a UNIQUE constraint), or
    # kept one story at the home page's address and dropped the others.
    for slug in ARTICLES:
        _canonical(site, slug, _absolute(site, canonical))
    feed = f"{site.url}/feed.xml"
    first = cli("add", feed)
    assert first.exit_code == 0, first.output
    assert "cited at the address it came from" in first.output
    stored = {a["title"]: a["url"] for a in articles(cli)}
    assert stored == {title: f"{site.url}/news/{slug}" for slug, (title, _) in ARTICLES.items()}
    again = cli("index")  # and the next sync goes through
    assert again.exit_code == 0, again.output
    assert len(articles(cli)) == len(ARTICLES)


def test_a_story_naming_its_site_s_home_page_is_cited_where_it_came_from(site, cli):
    slug = "harbour-bridge-reopens"
    _canonical(site, slug, _absolute(site, "/"))
    added = cli("add", f"{site.url}/news/{slug}")
    assert added.exit_code == 0, added.output
    assert f"names its site's front page {site.url}/ as its address" in added.output
    (article,) = articles(cli)
    assert article["url"] == f"{site.url}/news/{slug}"
    other = "council-bans-face-recognition"
    _canonical(site, other, _absolute(site, "/"))
    assert cli("add", f"{site.url}/news/{other}").exit_code == 0
    assert len(articles(cli)) == 2  # not "same article as …; indexed once"


# ---------------------------------------------------------------------- #2 remove keeps what another source holds


def test_removing_a_feed_keeps_the_stories_a_registered_sitemap_also_lists(site, cli):
    feed, sitemap = f"{site.url}/feed.xml", f"{site.url}/sitemap.xml"
    assert cli("add", feed).exit_code == 0
    both = cli("add", sitemap)  # lists the feed's three stories: indexed once, under the feed
    assert both.exit_code == 0 and "indexed once" in both.output, both.output
    removed = cli("remove", feed)
    assert removed.exit_code == 0, removed.output
    assert f"removed {feed} and 0 of its articles; 3 stay, held by another source" in removed.output
    stories = {a["title"] for a in articles(cli)}
    assert stories == {title for title, _ in ARTICLES.values()}
    assert sources(cli)[sitemap]["articles"] == 3  # the sitemap now holds them
    (hit, *_) = ask_json(cli, "council vote facial recognition ban")["hits"]
    assert hit["title"] == ARTICLES["council-bans-face-recognition"][0]
    # Once no source holds them, they go.
    assert cli("remove", sitemap).exit_code == 0
    assert articles(cli) == []


def test_removing_a_folder_keeps_a_file_in_it_that_is_registered_on_its_own(tmp_path, cli):
    folder = tmp_path / "news"
    folder.mkdir()
    for slug, (title, body) in ARTICLES.items():
        text = "\n\n".join(body)
        (folder / f"{slug}.md").write_text(
            f"---\ntitle: {title}\nwebUrl: https://example.org/news/{slug}\n---\n{text}\n", encoding="utf-8"
        )
    kept = folder / "harbour-bridge-reopens.md"
    assert cli("add", str(folder)).exit_code == 0
    assert cli("add", str(kept)).exit_code == 0
    removed = cli("remove", str(folder))
    assert removed.exit_code == 0, removed.output
    assert [a["title"] for a in articles(cli)] == [ARTICLES["harbour-bridge-reopens"][0]]
    assert sources(cli)[str(kept)]["articles"] == 1
    synced = cli("index")  # the file's next sync finds its article in place: nothing changes
    assert synced.exit_code == 0 and "Index is up to date" in synced.output, synced.output


def test_two_links_to_one_text_under_one_address_are_one_article(site, cli):
    # The same page served at two links (a print view, a tracking link) names one address:
    # one article, said once, and no failed write.
    title, body = ARTICLES["harbour-bridge-reopens"]
    page = article_page("harbour-bridge-reopens", title, body).replace(
        '<link rel="canonical" href="/news/harbour-bridge-reopens">',
        f'<link rel="canonical" href="{site.url}/news/harbour-bridge-reopens">',
    )
    for slug in ("bridge-print", "bridge-amp"):
        site.routes[f"/news/{slug}"] = Route(body=page.encode())
    site.routes["/twice.xml"] = Route(
        content_type="application/rss+xml", body=rss(["bridge-print", "bridge-amp"], site.url).encode()
    )
    added = cli("add", f"{site.url}/twice.xml")
    assert added.exit_code == 0, added.output
    assert "indexed once" in added.output
    (article,) = articles(cli)
    assert article["url"] == f"{site.url}/news/harbour-bridge-reopens"
    assert cli("index").exit_code == 0


def test_a_feed_that_answers_with_a_web_page_has_failed_and_stays_a_feed(site, cli):
    feed = f"{site.url}/feed.xml"
    assert cli("add", feed).exit_code == 0
    before = sorted(a["title"] for a in articles(cli))
    healthy = site.routes[feed.removeprefix(site.url)]
    notice = "<html><body><p>We are down for maintenance and will be back soon, thank you.</p></body></html>"
    site.routes["/feed.xml"] = Route(body=notice.encode(), etag='"maintenance"')
    down = cli("index")
    assert down.exit_code == 2, down.output  # the only source could not be read
    flat = " ".join(down.output.split())
    assert f"{feed}: answered with a web page, not its feed; its {len(before)} articles stay" in flat
    assert sorted(a["title"] for a in articles(cli)) == before  # the notice is no article
    assert sources(cli)[feed]["kind"] == "feed" and "web page" in sources(cli)[feed]["problem"]
    assert cli("index").exit_code == 2  # no 304 of the notice's validator taken for the feed's
    site.routes["/feed.xml"] = healthy
    back = cli("index")
    assert back.exit_code == 0, back.output
    assert sources(cli)[feed]["kind"] == "feed" and sources(cli)[feed]["problem"] is None
    assert sorted(a["title"] for a in articles(cli)) == before


def _undated(site, slug: str) -> None:
    title, body = ARTICLES[slug]
    html = article_page(slug, title, body)
    html = "\n".join(line for line in html.splitlines() if "published_time" not in line)
    site.routes[f"/news/{slug}"] = Route(body=html.encode())


def test_a_story_whose_page_has_no_date_takes_its_feed_item_s(site, cli):
    # Undated, it was out of every --since, --as-of and timeline, though its feed dated it.
    slug = "harbour-bridge-reopens"
    _undated(site, slug)
    future = "council-bans-face-recognition"
    _undated(site, future)
    body = rss([slug, future], site.url).replace(
        f"<link>{site.url}/news/{future}</link><pubDate>Wed, 01 May 2024 09:30:00 GMT",
        f"<link>{site.url}/news/{future}</link><pubDate>Fri, 01 Jan 2100 09:30:00 GMT",
    )
    site.routes["/dated.xml"] = Route(content_type="application/rss+xml", body=body.encode())
    added = cli("add", f"{site.url}/dated.xml")
    assert added.exit_code == 0, added.output
    dated = {a["title"]: a["published"] for a in articles(cli)}
    assert dated[ARTICLES[slug][0]].startswith("2024-05-01")
    assert not (dated[ARTICLES[future][0]] or "").startswith("2100")  # a date in 2100 is no date…
    assert "listed as published 2100-01-01, in the future; not used" in " ".join(added.output.split())  # …said
    since = ask_json(cli, "harbour bridge reopens repairs")
    assert since["hits"][0]["published"].startswith("2024-05-01")


def test_a_news_sitemap_s_publication_date_is_read_and_lastmod_is_not():
    from retrieval.ingest.web.extract import sitemap_links
    from retrieval.ingest.web.fetch import Response

    body = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
      xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
      <url><loc>https://example.org/a-1</loc><lastmod>2024-06-01</lastmod>
        <news:news><news:publication_date>2024-05-01T09:00:00Z</news:publication_date></news:news></url>
      <url><loc>https://example.org/b-2</loc><lastmod>2024-06-02</lastmod></url></urlset>"""
    response = Response(url="https://example.org/sitemap.xml", status=200, content_type="application/xml", body=body)
    links, _ = sitemap_links(response, 10)
    assert [(link.published, link.modified) for link in links] == [
        ("2024-05-01T09:00:00Z", "2024-06-01"),
        (None, "2024-06-02"),
    ]


@pytest.mark.parametrize("how", ["pages", "feed after a 304"])
def test_a_story_naming_an_indexed_story_s_address_does_not_replace_it(site, cli, how):
    # B names A's address as its canonical link. Added as two pages, B was "the same article"
    # and dropped; read by a feed while A answered 304, B's text replaced A's under A's link.
    a, b = "harbour-bridge-reopens", "council-bans-face-recognition"
    title, body = ARTICLES[a]
    site.routes[f"/news/{a}"] = Route(body=article_page(a, title, body).encode(), etag='"a1"')
    _canonical(site, b, f"{site.url}/news/{a}")
    if how == "pages":
        assert cli("add", f"{site.url}/news/{a}").exit_code == 0
        second = cli("add", f"{site.url}/news/{b}")
    else:
        site.routes["/one.xml"] = Route(content_type="application/rss+xml", body=rss([a], site.url).encode())
        assert cli("add", f"{site.url}/one.xml").exit_code == 0
        site.routes["/one.xml"] = Route(content_type="application/rss+xml", body=rss([a, b], site.url).encode())
        second = cli("index")
    assert second.exit_code == 0, second.output
    assert "as another story does; cited at the address it came from" in second.output
    stored = {x["title"]: x["url"] for x in articles(cli)}
    assert stored == {ARTICLES[a][0]: f"{site.url}/news/{a}", ARTICLES[b][0]: f"{site.url}/news/{b}"}
