"""Reading the collection: every format, the bundled files, and bad input."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.ingest.readers import CollectionReader, UnreadableError, decode, normalize_url, split_front_matter
from tests.helpers import BUNDLED, unblock_fifo_later

reader = CollectionReader()


def read(*paths):
    return reader.read([Path(p) for p in paths])


@pytest.fixture(scope="module")
def bundled():
    return read(BUNDLED)


def by_url(collection, fragment):
    (doc,) = [d for d in collection.documents if d.url and fragment in d.url]
    return doc


def test_bundled_collection_reads_without_problems(bundled):
    assert bundled.files_read == 5
    assert bundled.problems == ()
    # 3 front-matter articles + 2 plain text + 11 distinct related articles; the NBC
    # article lists itself among its related entries: one URL, one document.
    assert len(bundled.documents) == 15
    assert bundled.merged == 1
    urls = [d.url for d in bundled.documents if d.url]
    assert len(urls) == len({normalize_url(u) for u in urls})


def test_front_matter_fields(bundled):
    doc = by_url(bundled, "thenextweb.com")
    assert doc.title == "The campaign against IRS use of facial recognition is a model for digital activism"
    assert doc.outlet == "The Next Web"
    assert doc.published == datetime(2022, 2, 9, 18, 24, tzinfo=UTC)
    assert doc.topics == ("Computer Vision", "AI")
    assert doc.parent_id is None
    # Empty body: title and excerpt are the text.
    assert doc.text.startswith(doc.title + "\n\n")
    assert "Digital activists can celebrate" in doc.text
    assert doc.source == "000_0079eda1b2bb9ffb.txt"


def test_related_entries_are_documents_of_their_own(bundled):
    parent = by_url(bundled, "thenextweb.com")
    japan = by_url(bundled, "japantimes.co.jp")
    assert japan.parent_id == parent.id
    assert japan.outlet == "The Japan Times"
    assert japan.published == datetime(2022, 2, 7, 8, 13, tzinfo=UTC)
    # Mojibake in a related excerpt is repaired.
    assert "today’s complex web" in japan.text
    assert "â€" not in "".join(d.text + d.title for d in bundled.documents)


def test_self_listed_related_article_merges_into_the_article(bundled):
    nbc = [d for d in bundled.documents if d.url and "nbcnews.com" in d.url]
    assert len(nbc) == 1
    assert nbc[0].parent_id is None
    assert nbc[0].title.startswith("Facial recognition has a new foe")


def test_plain_text_articles_have_a_title_and_no_invented_link(bundled):
    docs = {d.source: d for d in bundled.documents if d.url is None}
    assert set(docs) == {"003_dda86c09921c1694.txt", "004_a582f3a2c9e06838.txt"}
    truthout = docs["003_dda86c09921c1694.txt"]
    assert truthout.title == "Tech Companies Urged Not to Sell Facial Recognition to Governments"
    assert truthout.outlet is None and truthout.published is None
    assert truthout.display_source == "003_dda86c09921c1694.txt"


def test_sidecar_gives_plain_text_its_link(tmp_path):
    (tmp_path / "story.txt").write_text("A headline\n\nThe body of the story.\n")
    (tmp_path / "story.meta.yaml").write_text(
        "url: https://example.org/story\noutlet: Example Times\npublished: 2021-05-06\ntitle: Better headline\n"
    )
    (doc,) = read(tmp_path).documents
    assert doc.url == "https://example.org/story"
    assert doc.outlet == "Example Times"
    assert doc.title == "Better headline"
    assert doc.published == datetime(2021, 5, 6, tzinfo=UTC)


def test_sources_file_gives_plain_text_its_link(tmp_path):
    (tmp_path / "story.txt").write_text("A headline\n\nThe body.\n")
    sources = tmp_path / "sources.yaml"
    sources.write_text("story.txt:\n  url: https://example.org/s\n  outlet: Ex\n")
    (doc,) = CollectionReader(sources_file=sources).read([tmp_path]).documents
    assert (doc.url, doc.outlet, doc.title) == ("https://example.org/s", "Ex", "A headline")


def test_html_page(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>Big story - Site</title><link rel=canonical href='https://ex.com/big'>"
        "<meta property='og:site_name' content='Example News'>"
        "<meta property='article:published_time' content='2021-03-04T10:00:00Z'></head>"
        "<body><nav>Home | About</nav><article><h1>Big story</h1>"
        "<p>First paragraph of the story is here and it is long enough to count as the text.</p>"
        "<p>Second paragraph says more things about the topic at hand, in another sentence.</p>"
        "</article><script>var x = 1;</script><footer>Copyright</footer></body></html>"
    )
    (doc,) = read(tmp_path).documents
    assert doc.title == "Big story"
    assert doc.url == "https://ex.com/big"
    assert doc.outlet == "Example News"
    assert doc.published.date().isoformat() == "2021-03-04"
    assert "Second paragraph says more" in doc.text
    assert "var x" not in doc.text and "Copyright" not in doc.text


def test_jsonl_with_a_broken_line_keeps_the_others(tmp_path):
    lines = [
        json.dumps({"title": "One", "text": "First story text.", "url": "https://a.org/1", "outlet": "A"}),
        '{"title": "broken", "text": ',
        json.dumps({"title": "Two", "text": "Second story text.", "published": "2020-01-02T03:04:05Z"}),
        json.dumps([1, 2]),
    ]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n")
    result = read(tmp_path)
    assert [d.title for d in result.documents] == ["One", "Two"]
    assert result.documents[0].outlet == "A"
    assert result.documents[1].url is None and result.documents[1].source == "feed.jsonl line 3"
    reasons = {p.source: p.reason for p in result.problems}
    assert "not valid JSON" in reasons["feed.jsonl line 2"]
    assert "not a JSON object" in reasons["feed.jsonl line 4"]


GOOD = "---\ntitle: Good one\nwebUrl: https://good.org/a\n---\nThe good body text.\n"


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\t\n", "empty file"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        ("nul.txt", b"abc\x00\x01\x02\xff\xfe\x00def" * 10, "binary"),
        ("unclosed.md", b"---\ntitle: x\nno end here\n", "never closed"),
        ("list.md", b"---\n- a\n- b\n---\nbody\n", "not a mapping"),
        ("badyaml.md", b"---\ntitle: [unclosed\n---\nbody\n", "not valid YAML"),
        ("bomb.md", b"---\na: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n---\nbody\n", "aliases"),
        ("feed.jsonl", b"\n\n\n", "empty file"),
        ("empty.html", b"<html><body><script>alert(1)</script></body></html>", "no main article text"),
    ],
)
def test_bad_file_is_reported_and_others_survive(tmp_path, name, content, reason):
    (tmp_path / "good.md").write_text(GOOD)
    (tmp_path / name).write_bytes(content)
    result = read(tmp_path)
    assert [d.title for d in result.documents] == ["Good one"]
    skipped = [p for p in result.problems if p.skipped]
    assert len(skipped) == 1
    assert skipped[0].source == name
    assert reason in skipped[0].reason


def test_wrong_field_types_warn_but_keep_the_article(tmp_path):
    (tmp_path / "a.md").write_text(
        "---\ntitle: [1, 2]\npublishedDateTime: yesterday\nwebUrl: 42\n---\nBody text here.\n"
    )
    result = read(tmp_path)
    (doc,) = result.documents
    assert doc.title == "Body text here." and doc.published is None and doc.url is None
    reasons = " | ".join(p.reason for p in result.problems)
    assert "'title' should be text" in reasons
    assert "'publishedDateTime' is not a date" in reasons
    assert "'webUrl' is not an http(s) link" in reasons
    assert not any(p.skipped for p in result.problems)


@pytest.mark.parametrize(
    "data, expected",
    [
        ("Café déjà vu".encode("latin-1"), "Café déjà vu"),
        ("\ufeffBOM text".encode(), "BOM text"),
        ("UTF-16 text é".encode("utf-16"), "UTF-16 text é"),
        (b"plain ascii", "plain ascii"),
    ],
)
def test_decoding(data, expected):
    assert decode(data) == expected


def test_latin1_file_is_read_not_skipped(tmp_path):
    (tmp_path / "old.txt").write_bytes("Vieux titre\n\nLe café était fermé à cause de la grève.".encode("latin-1"))
    (doc,) = read(tmp_path).documents
    assert "café était fermé" in doc.text


def test_same_article_under_two_names_is_indexed_once(tmp_path):
    body = "Headline\n\nThe very same article text, saved twice by a scraper.\n"
    (tmp_path / "a.txt").write_text(body)
    (tmp_path / "b.txt").write_text(body)
    result = read(tmp_path)
    assert len(result.documents) == 1
    assert any("indexed once" in p.reason and not p.skipped for p in result.problems)


def test_missing_path_and_crlf(tmp_path):
    (tmp_path / "crlf.md").write_bytes(b"---\r\ntitle: CRLF\r\n---\r\nLine one.\r\nLine two.\r\n")
    result = read(tmp_path, tmp_path / "nope")
    (doc,) = result.documents
    assert doc.title == "CRLF" and "\r" not in doc.text
    assert any(p.reason == "no such file or folder" for p in result.problems)


def test_front_matter_split():
    assert split_front_matter("no front matter") == (None, "no front matter")
    data, body = split_front_matter("---\ntitle: T\n---\nBody")
    assert data == {"title": "T"} and body == "Body"
    with pytest.raises(UnreadableError):
        split_front_matter("---\ntitle: T\n")


def test_url_normalisation():
    assert normalize_url("HTTPS://Example.org/a/?utm_source=x&id=3#top") == "https://example.org/a?id=3"


# ------------------------------------------------- special files, bounded and streamed reads


def test_a_link_out_of_a_folder_is_skipped_but_one_inside_is_read(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "story.txt").write_text("Story\n\nA kestrel hovered over the verge.\n")
    (folder / "same.txt").symlink_to(folder / "story.txt")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "up.txt").symlink_to("../outside.txt")
    (tmp_path / "outside.txt").write_text("Outside\n\nNot part of the folder.\n")
    result = read(folder)
    assert [d.title for d in result.documents] == ["Story"]  # the inside link is the same article
    skipped = {p.source: p.reason for p in result.skipped}
    assert skipped == {
        "passwd.txt": "symbolic link to outside the folder; not read",
        "up.txt": "symbolic link to outside the folder; not read",
    }


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null", "/proc/self/status"])
def test_special_and_system_files_are_never_read(tmp_path, target):
    link = tmp_path / "article.txt"
    link.symlink_to(target)
    docs, problems = reader.read_one(link, tmp_path)  # as a file named on its own would be
    assert docs == [] and len(problems) == 1
    assert problems[0].reason.endswith("not read") and f"under /{target.split('/')[1]}" in problems[0].reason


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.md")
    unblock_fifo_later(tmp_path / "pipe.md")
    # Read through open_article directly, so the check after discovery is what is tested.
    docs, problems = reader.read_one(tmp_path / "pipe.md", tmp_path)
    assert docs == [] and [p.reason for p in problems] == ["not a regular file (a FIFO); not read"]
    assert reader.read([tmp_path / "pipe.md"]).problems[0].reason == "not a regular file or folder; not read"


def test_reads_stop_at_the_limit_whatever_stat_said(tmp_path):
    from retrieval.ingest.readers import reader as reader_module
    from retrieval.ingest.readers.formats import Format

    file = tmp_path / "growing.txt"
    file.write_bytes(b"x" * 10)
    fmt = Format("tiny", frozenset({".txt"}), 100, reader_module.read_bytes)
    with reader_module.open_article(file, fmt) as f:  # 10 bytes when it was checked...
        with open(file, "ab") as writer:
            writer.write(b"y" * 10_000)  # ...and 10 kB by the time it is read
        assert len(f.read()) == 101


def test_jsonl_is_streamed_never_read_whole(tmp_path, monkeypatch):
    from retrieval.ingest.readers import reader as reader_module

    with open(tmp_path / "big.jsonl", "w") as f:
        for n in range(3000):  # about 3 MB
            f.write(json.dumps({"title": f"Tern {n}", "text": f"Tern {n} dived into the harbour. " * 30}) + "\n")
    monkeypatch.setattr(reader_module, "read_bytes", lambda file: pytest.fail("read whole"))
    largest: list[int] = []
    real = reader_module._Capped.readinto
    monkeypatch.setattr(reader_module._Capped, "readinto", lambda self, b: largest.append(len(b)) or real(self, b))
    result = read(tmp_path / "big.jsonl")
    assert len(result.documents) == 3000 and not result.problems
    assert max(largest) <= 65536  # never more than one 64 kB buffer of the file at a time


def test_jsonl_lines_in_other_encodings_and_too_long(tmp_path, monkeypatch):
    from retrieval.ingest.readers import reader as reader_module

    monkeypatch.setattr(reader_module, "MAX_ARTICLE_BYTES", 200)
    good = '{"title": "Héron", "text": "Le héron cendré pêche."}'
    (tmp_path / "utf16.jsonl").write_text(
        good + "\n" + good.replace("Héron", "Aigrette").replace("héron", "aigrette") + "\n", encoding="utf-16"
    )
    (tmp_path / "mixed.jsonl").write_bytes(
        b'\xef\xbb\xbf{"title": "First", "text": "After a BOM."}\r\n'
        + b'{"title": "Long", "text": "'
        + b"x" * 500
        + b'"}\n'
        + good.replace("Héron", "Latin").replace("héron", "latin").encode("latin-1")
        + b"\n"
    )
    result = read(tmp_path)
    assert sorted(d.title for d in result.documents) == ["Aigrette", "First", "Héron", "Latin"]
    assert {p.source: p.reason for p in result.problems} == {
        "mixed.jsonl line 2": "line is longer than the limit for one article"
    }


def test_an_unexpected_failure_costs_one_jsonl_line_only(tmp_path, monkeypatch):
    from retrieval.ingest.readers import formats

    real = formats.first_line
    monkeypatch.setattr(formats, "first_line", lambda text: 1 / 0 if "boom" in text else real(text))
    lines = ['{"text": "Fine line about gulls."}', '{"text": "boom goes this line"}', '{"text": "Another fine."}']
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n")
    result = read(tmp_path / "feed.jsonl")
    assert [d.text for d in result.documents] == ["Fine line about gulls.", "Another fine."]
    assert [(p.source, p.reason) for p in result.problems] == [
        ("feed.jsonl line 2", "could not be read (ZeroDivisionError: division by zero)")
    ]


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_dates_out_of_range_are_no_date(value):
    from retrieval.ingest.readers import parse_date

    assert parse_date(value) is None


def test_an_unexpected_failure_costs_one_feed_item_only(monkeypatch):
    from types import SimpleNamespace

    from retrieval.ingest.web import source as web
    from retrieval.ingest.web.extract import Link

    def page(response, url, cleaner, fetcher, problems, listed=None):
        if url.endswith("/2"):
            raise OverflowError("date value out of range")
        return SimpleNamespace(id=url, url=url, title=url, text=url)

    monkeypatch.setattr(web, "_page", page)
    monkeypatch.setattr(web, "kind_of", lambda response: "page")
    fetcher = SimpleNamespace(
        get=lambda url, conditional=False: SimpleNamespace(not_modified=False),
        settings=SimpleNamespace(concurrency=2),
        cache=SimpleNamespace(entries={}),
        pages={},  # the per-sync memo of pages already fetched
    )
    read = web.WebRead("feed")
    links = [Link(f"https://example.org/{n}") for n in (1, 2, 3)]
    web._read_items(links, fetcher, None, set(), read, None)
    assert [d.url for d in read.documents] == ["https://example.org/1", "https://example.org/3"]
    assert [(p.source, p.reason) for p in read.problems] == [
        ("https://example.org/2", "could not be read (OverflowError: date value out of range)")
    ]
