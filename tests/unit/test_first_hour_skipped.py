"""Issue 27, item 8: what is skipped is said, through the CLI (hash embedder)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from retrieval.cli import main


@pytest.fixture
def run(cli_env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # one message, one line: asserted whole

    def invoke(*args: str):
        result = CliRunner().invoke(main, list(args))
        assert "Traceback" not in result.output, result.output
        return result

    return invoke


def articles(run) -> list[dict]:
    return json.loads(run("sources", "--json").stdout)["articles"]


def test_a_folder_says_which_files_it_does_not_read(run, tmp_path):
    news = tmp_path / "news"
    (news / "older").mkdir(parents=True)
    (news / ".git").mkdir()
    (news / "story.txt").write_text("Council votes on budget\n\nThe council voted on Tuesday.\n")
    (news / "story.meta.yaml").write_text("url: https://example.org/budget\n")  # a sidecar: read, not skipped
    for name in ("report.pdf", "older/scan.PDF", "figures.csv", ".DS_Store", ".git/HEAD"):
        (news / name).write_bytes(b"%PDF-1.4 or whatever")
    result = run("add", str(news))
    assert result.exit_code == 0, result.output
    assert f"{news}: skipped 3 files of types sourced does not read (.pdf ×2, .csv)" in result.output
    assert ": 1 article (1 new" in result.output and "0 skipped" in result.output  # a note, not a problem
    assert run("index", "--strict").exit_code == 0  # and not one for --strict


def test_one_file_of_one_type(run, tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    (news / "story.md").write_text("# Harbour bridge reopens\n\nThe bridge reopened on Monday.\n")
    (news / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    result = run("add", str(news))
    assert f"{news}: skipped 1 file of a type sourced does not read (.jpg)" in result.output


def test_a_jsonl_line_without_text_is_named_as_skipped(run, tmp_path):
    feed = tmp_path / "wire.jsonl"
    lines = [
        {"title": "Only a headline", "url": "https://example.org/a"},
        {"title": "A real story", "text": "The library extends its hours.", "url": "https://example.org/b"},
        {"url": "https://example.org/c"},
    ]
    feed.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = run("add", str(feed))
    assert result.exit_code == 0, result.output
    assert "skipped: wire.jsonl line 1: no article text (only a title)" in result.output
    assert "skipped: wire.jsonl line 3: no article text" in result.output
    assert [a["title"] for a in articles(run)] == ["A real story"]
    assert run("index", "--strict").exit_code == 3


def test_a_plain_text_title_is_its_first_line_a_wrapped_headline_whole(run, tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    # No blank line after the headline: the first paragraph would take the body with it.
    (news / "a.txt").write_text("Council votes on budget\nThe council voted on Tuesday. It was close.\n")
    # A headline hard-wrapped at a fixed width is one title.
    (news / "b.txt").write_text("Mayor resigns after two years of\ndisputes over city contracts\n\nThe mayor quit.\n")
    assert run("add", str(news)).exit_code == 0
    titles = {a["file"]: a["title"] for a in articles(run)}
    assert titles == {
        "a.txt": "Council votes on budget",
        "b.txt": "Mayor resigns after two years of disputes over city contracts",
    }
