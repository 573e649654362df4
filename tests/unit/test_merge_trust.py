"""Merging copies of one article never lends one article's outlet or date to another's text.

Records that share a link but not a text are two articles; only copies of one text (the
same words, or one inside the other) fill each other's gaps, and each merge names its files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.config import replace
from retrieval.ingest.readers import CollectionReader
from retrieval.store import FolderStore
from tests.helpers import build, service_for

LINK = "https://example.org/story"
CHOWDER = (
    "Marta Silva won the annual chowder contest on the pier on Saturday, her smoky clam chowder beating "
    "forty rivals. The judges praised the fresh clams and the thick broth, and the prize was a copper pot."
)
RATES = (
    "The central bank held interest rates steady on Friday, citing slowing inflation and a weaker labour "
    "market. Economists had expected the decision, and markets barely moved after it was announced."
)
HERONS = (
    "Volunteers counted more than four hundred herons nesting along the river this spring, the highest "
    "number in a decade, the wildlife trust said on Sunday. Wardens credit the cleaner water upstream."
)


def md(title: str, body: str = "", **front) -> str:
    lines = [
        "---",
        f"title: {title}",
        *(f"{k}: {json.dumps(v) if isinstance(v, list) else v}" for k, v in front.items()),
    ]
    return "\n".join([*lines, "---", body, ""])


def read(folder: Path):
    return CollectionReader().read([folder])


def by_source(collection):
    return {d.source: d for d in collection.documents}


def warnings(collection) -> list[str]:
    return [f"{p.source}: {p.reason}" for p in collection.problems if not p.skipped]


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "articles"
    path.mkdir()
    return path


@pytest.mark.parametrize("field", ["webUrl", "url"])
def test_a_shared_link_does_not_lend_an_outlet_and_date_to_another_text(tmp_path, folder, hash_config, field):
    (folder / "b.md").write_text(md("Chowder contest on the pier", CHOWDER, **{field: LINK}))
    (folder / "a.md").write_text(
        md("Rates held", RATES, **{field: LINK, "outlet": "Reuters", "published": "2019-03-01"})
    )
    collection = read(folder)
    docs = by_source(collection)
    assert set(docs) == {"a.md", "b.md"}  # two articles: neither dropped
    assert (docs["b.md"].outlet, docs["b.md"].published) == (None, None)
    assert (docs["a.md"].outlet, docs["a.md"].published) == ("Reuters", datetime(2019, 3, 1, tzinfo=UTC))
    assert docs["a.md"].id != docs["b.md"].id
    assert collection.merged == 0
    (warning,) = warnings(collection)
    assert "a.md" in warning and "b.md" in warning and "same link" in warning

    report = build(hash_config, tmp_path / "index", [folder])
    assert report.merged == 0
    answer = service_for(hash_config, tmp_path / "index").ask("who won the chowder contest?")
    top = answer.hits[0]
    assert "chowder" in top.text.lower()
    assert (top.document.outlet, top.document.published, top.document.source) == (None, None, "b.md")
    assert all(d.outlet != "Reuters" for d in top.duplicates)
    rates = service_for(hash_config, tmp_path / "index").ask("did the central bank hold interest rates?")
    assert rates.hits[0].document.outlet == "Reuters" and "interest rates" in rates.hits[0].text


def test_both_articles_under_one_link_keep_their_own_details(folder):
    (folder / "b.md").write_text(md("Chowder", CHOWDER, webUrl=LINK, outlet="Harbour Gazette", published="2024-07-01"))
    (folder / "a.md").write_text(md("Rates", RATES, webUrl=LINK + "/", outlet="Reuters", published="2019-03-01"))
    docs = by_source(read(folder))
    assert docs["b.md"].outlet == "Harbour Gazette" and docs["b.md"].published.year == 2024
    assert docs["a.md"].outlet == "Reuters" and docs["a.md"].published.year == 2019


def test_one_article_in_two_files_is_merged_and_its_details_filled_naming_both(folder):
    (folder / "story.md").write_text(md("Chowder contest", CHOWDER, webUrl=LINK))
    line = {
        "title": "Chowder contest",
        "text": CHOWDER,
        "url": LINK,
        "outlet": "Harbour Gazette",
        "published": "2024-07-01",
    }
    (folder / "feed.jsonl").write_text(json.dumps(line) + "\n")
    collection = read(folder)
    (doc,) = collection.documents
    assert (doc.outlet, doc.published) == ("Harbour Gazette", datetime(2024, 7, 1, tzinfo=UTC))
    assert collection.merged == 1
    (warning,) = warnings(collection)
    assert "story.md" in warning and "feed.jsonl line 1" in warning and "indexed once" in warning


def test_an_excerpt_held_in_the_full_article_is_a_copy_of_it(folder):
    excerpt = CHOWDER.split(". ")[0] + "."
    (folder / "full.md").write_text(md("Chowder contest", CHOWDER, webUrl=LINK))
    (folder / "teaser.md").write_text(md("Chowder contest", excerpt, webUrl=LINK, outlet="Harbour Gazette"))
    collection = read(folder)
    (doc,) = collection.documents
    assert doc.source == "full.md" and doc.text.startswith("Marta Silva") and doc.outlet == "Harbour Gazette"


def test_a_few_shared_words_are_not_a_copy(folder):
    (folder / "b.md").write_text(md("Chowder", CHOWDER, webUrl=LINK))
    (folder / "a.md").write_text(md("Short", "Marta Silva won", webUrl=LINK, outlet="Reuters"))
    docs = by_source(read(folder))
    assert docs["b.md"].outlet is None and docs["a.md"].outlet == "Reuters"


def test_a_related_entry_folds_into_the_article_but_lends_it_nothing(folder):
    related = [{"title": "Chowder contest", "excerpt": "A prize for soup.", "webUrl": LINK, "outlet": "Listing Times"}]
    (folder / "parent.md").write_text(md("Rates held", RATES, webUrl="https://example.org/rates", related=related))
    (folder / "child.md").write_text(md("Chowder contest", CHOWDER, webUrl=LINK))
    collection = read(folder)
    docs = [d for d in collection.documents if d.url == LINK]
    assert len(docs) == 1 and docs[0].source == "child.md"
    assert docs[0].outlet is None
    assert collection.merged == 1 and warnings(collection) == []


def test_a_related_entry_with_the_articles_own_text_lends_its_details(folder):
    related = [{"title": "Chowder contest", "excerpt": CHOWDER, "webUrl": LINK, "published": "2024-07-01"}]
    (folder / "parent.md").write_text(md("Rates held", RATES, webUrl="https://example.org/rates", related=related))
    (folder / "child.md").write_text(md("Chowder contest", "Chowder contest\n\n" + CHOWDER, webUrl=LINK))
    (doc,) = [d for d in read(folder).documents if d.url == LINK]
    assert doc.source == "child.md" and doc.published == datetime(2024, 7, 1, tzinfo=UTC)


def test_related_entries_follow_their_article_when_it_is_renamed(folder):
    related = [{"title": "Heron count", "excerpt": "Herons.", "webUrl": "https://example.org/herons"}]
    (folder / "a.md").write_text(md("Rates", RATES, webUrl=LINK, related=related))
    (folder / "b.md").write_text(md("Chowder", CHOWDER + " " + CHOWDER, webUrl=LINK))  # longer: keeps the id
    docs = read(folder).documents
    a = next(d for d in docs if d.source == "a.md" and d.parent_id is None)
    entry = next(d for d in docs if d.parent_id is not None)
    assert entry.parent_id == a.id


def test_lines_with_one_title_and_no_link_are_two_articles(folder):
    lines = [
        {"title": "Update", "text": CHOWDER, "outlet": "Harbour Gazette"},
        {"title": "Update", "text": RATES, "published": "2019-03-01"},
    ]
    (folder / "feed.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    collection = read(folder)
    docs = {d.text[:5]: d for d in collection.documents}
    assert len(docs) == 2
    assert docs["Marta"].outlet == "Harbour Gazette" and docs["Marta"].published is None
    assert docs["The c"].outlet is None and docs["The c"].published.year == 2019
    assert any("feed.jsonl line 2" in w and "feed.jsonl line 1" in w for w in warnings(collection))


def test_one_text_saved_twice_keeps_the_copy_with_its_details(folder):
    (folder / "a_copy.md").write_text(md("Herons", HERONS))
    (folder / "b_orig.md").write_text(md("Herons", HERONS, outlet="AP", published="2024-03-03"))
    collection = read(folder)
    (doc,) = collection.documents
    assert (doc.source, doc.outlet) == ("b_orig.md", "AP")
    (warning,) = warnings(collection)
    assert warning.startswith("a_copy.md:") and "b_orig.md" in warning and "indexed once" in warning


def test_a_reprint_in_the_same_folder_is_another_publication_shown_as_also_reported_by(tmp_path, folder, hash_config):
    (folder / "b_ap.md").write_text(md("Herons return", HERONS, outlet="AP", published="2024-03-03"))
    (folder / "a_reprint.md").write_text(md("Herons return", HERONS, outlet="Daily Reprint", published="2024-03-09"))
    collection = read(folder)
    assert {d.outlet for d in collection.documents} == {"AP", "Daily Reprint"}
    assert collection.merged == 0

    build(hash_config, tmp_path / "index", [folder])
    docs = FolderStore(tmp_path / "index").open().documents()
    assert {d.outlet for d in docs} == {"AP", "Daily Reprint"}
    answer = service_for(hash_config, tmp_path / "index").ask("how many herons nested along the river?")
    herons = [h for h in answer.hits if "herons" in h.text.lower()]
    assert len(herons) == 1  # one story...
    shown = {herons[0].document.outlet, *(d.outlet for d in herons[0].duplicates)}
    assert shown == {"AP", "Daily Reprint"}  # ...with the other copy as "also reported by"
    # The same text ties exactly: without a recency prior to lean on, the original is cited.
    flat = replace(hash_config, search={"recency": 0.0})
    answer = service_for(flat, tmp_path / "index").ask("how many herons nested along the river?")
    first = next(h for h in answer.hits if "herons" in h.text.lower())
    assert first.document.outlet == "AP" and [d.outlet for d in first.duplicates] == ["Daily Reprint"]


@pytest.mark.parametrize("names", [("a_copy.md", "z_reuters.md"), ("z_copy.md", "a_reuters.md")])
def test_one_link_and_one_text_under_two_outlets_are_two_publications_the_original_cited(
    tmp_path, folder, hash_config, names
):
    # Whatever the file names sort as, the copy does not replace the original: both are
    # kept, the earliest is cited and the other is "also reported by".
    link = "https://news.example/herons"
    copy, original = names
    (folder / copy).write_text(md("Herons return", HERONS, url=link, outlet="Copycat News", published="2019-08-04"))
    (folder / original).write_text(md("Herons return", HERONS, url=link, outlet="Reuters", published="2019-08-01"))
    collection = read(folder)
    assert sorted(d.outlet for d in collection.documents) == ["Copycat News", "Reuters"]
    assert any("another outlet or date" in w for w in warnings(collection)), warnings(collection)
    build(hash_config, tmp_path / "index", [folder])
    flat = replace(hash_config, search={"recency": 0.0})
    answer = service_for(flat, tmp_path / "index").ask("how many herons nested along the river?")
    first = next(h for h in answer.hits if "herons" in h.text.lower())
    assert first.document.outlet == "Reuters" and [d.outlet for d in first.duplicates] == ["Copycat News"]


def test_two_excerpts_with_different_outlets_do_not_both_fill_one_article(folder):
    # The full text has no outlet or date; one excerpt says Reuters in March, the other
    # AP in May. Checked against the full text only, both joined it and the article showed
    # Reuters with AP's date, or whichever filled first: a byline no copy carries.
    half = CHOWDER.split(". ")[0] + "."
    (folder / "full.md").write_text(md("Chowder contest", CHOWDER, webUrl=LINK))
    (folder / "a.md").write_text(md("Chowder", half, webUrl=LINK, outlet="Reuters", published="2024-03-01"))
    (folder / "b.md").write_text(md("Chowder", half + " ", webUrl=LINK, outlet="AP", published="2024-05-01"))
    collection = read(folder)
    details = {(d.outlet, d.published.month if d.published else None) for d in collection.documents}
    assert details <= {(None, None), ("Reuters", 3), ("AP", 5)}, details
    full = next(d for d in collection.documents if d.text.startswith(CHOWDER[:40]) and len(d.text) > len(half) + 5)
    assert (full.outlet, full.published.month) in {("Reuters", 3), ("AP", 5)}  # one copy's details, whole
    assert len(collection.documents) == 2  # the other excerpt is its own publication


def test_many_records_under_one_link_keep_each_text_and_merge_only_equal_ones(folder):
    # A feed dump giving every item the site's home page as link: each text its own article.
    lines = [
        json.dumps({"title": f"Item {n}", "text": f"{HERONS} Item number {n} of the dump.", "url": LINK})
        for n in range(300)
    ]
    lines.append(json.dumps({"title": "Item 0 again", "text": f"{HERONS} Item number 0 of the dump.", "url": LINK}))
    (folder / "dump.jsonl").write_text("\n".join(lines) + "\n")
    collection = read(folder)
    assert len(collection.documents) == 300 and collection.merged == 1
    assert len({d.id for d in collection.documents}) == 300


def test_articles_sharing_a_link_keep_their_ids_when_a_line_is_added_above(folder):
    # Ids came from the line number: one item added at the top of a feed dump gave every
    # article after it a new id (its citations broken, everything embedded again).
    items = [("Chowder", CHOWDER), ("Rates", RATES), ("Herons", HERONS)]
    dump = folder / "dump.jsonl"

    def write(rows):
        dump.write_text("".join(json.dumps({"title": t, "text": x, "url": LINK}) + "\n" for t, x in rows))
        return {d.title: d.id for d in read(folder).documents}

    before = write(items)
    # (The longest text keeps the link's own id; the new line is shorter than all three.)
    after = write([("Ferry", "The harbour ferry will run every hour from Monday, the port authority said."), *items])
    assert len(before) == 3 and len(after) == 4
    assert {t: after[t] for t in before} == before


def test_one_page_linked_over_http_and_https_is_one_article(folder):
    (folder / "a.md").write_text(md("Chowder", CHOWDER, webUrl="http://Example.org:80/story/", outlet="Gazette"))
    (folder / "b.md").write_text(md("Chowder", CHOWDER, webUrl="https://example.org/story", published="2024-07-01"))
    (folder / "c.md").write_text(md("Rates", RATES, webUrl="https://example.org:8443/story"))  # another server
    collection = read(folder)
    chowder = [d for d in collection.documents if d.title == "Chowder"]
    assert len(chowder) == 1 and collection.merged == 1
    assert (chowder[0].outlet, chowder[0].published.year) == ("Gazette", 2024)
    assert len(collection.documents) == 2


def test_the_article_key_keeps_what_names_another_page():
    from retrieval.ingest.readers.fields import article_key

    assert article_key("http://example.org/a") == article_key("https://EXAMPLE.org:443/a/")
    assert article_key("http://example.org:8080/a") != article_key("https://example.org/a")
    assert article_key("https://example.org/a?id=1") != article_key("https://example.org/a?id=2")
    assert article_key("https://example.org/a?utm_source=x#top") == article_key("https://example.org/a")
