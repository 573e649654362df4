"""A read that fails never drops what was indexed: a file that cannot be read this time
keeps its articles, and so does a registered folder that suddenly holds no file."""

from __future__ import annotations

import json

from click.testing import CliRunner

from retrieval.cli import main
from tests.helpers import HASH_CONFIG_YAML

GOOD = (
    "---\ntitle: Chowder contest\noutlet: Gazette\npublished: 2024-03-01\n---\nMaria Lopez won the chowder contest.\n"
)


def run(*args):
    return CliRunner().invoke(main, list(args))


def titles() -> list[str]:
    data = json.loads(run("sources", "--json").output)
    return sorted(a["title"] for a in data["articles"])


def _folder(cli_env):
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML)
    folder = cli_env / "news"
    folder.mkdir()
    (folder / "a.md").write_text(GOOD)
    (folder / "b.txt").write_text("Harbour bridge reopens\n\nThe harbour bridge reopened on Monday.\n")
    first = run("index", str(folder))
    assert first.exit_code == 0, first.output
    assert titles() == ["Chowder contest", "Harbour bridge reopens"]
    return folder


def test_a_file_that_cannot_be_read_this_time_keeps_its_articles(cli_env):
    folder = _folder(cli_env)
    for broken in ("---\ntitle: [unclosed\n---\nMaria Lopez won.\n", ""):  # bad YAML mid-edit; emptied mid-save
        (folder / "a.md").write_text(broken)
        result = run("index")
        assert result.exit_code == 0, result.output
        assert "a.md" in result.output and "indexed article kept" in result.output, result.output
        assert "1 gone" not in result.output and "1 removed" not in result.output
        assert titles() == ["Chowder contest", "Harbour bridge reopens"]
    # Once it reads again, the edit lands; a file really deleted still takes its article.
    (folder / "a.md").write_text(GOOD.replace("Chowder contest", "Chowder contest won"))
    assert run("index").exit_code == 0
    assert titles() == ["Chowder contest won", "Harbour bridge reopens"]
    (folder / "a.md").unlink()
    assert run("index").exit_code == 0
    assert titles() == ["Harbour bridge reopens"]


def test_a_registered_folder_that_suddenly_holds_no_file_keeps_its_articles(cli_env):
    folder = _folder(cli_env)
    for f in folder.iterdir():
        f.unlink()  # an unmounted disk leaves its empty mount point
    result = run("index")
    assert "no article files now" in result.output and "its 2 articles stay until" in result.output, result.output
    assert result.exit_code == 2  # nothing could be read: said, and nothing changed
    assert titles() == ["Chowder contest", "Harbour bridge reopens"]
    problem = json.loads(run("sources", "--json").output)["sources"][0]["problem"]
    assert "no article files now" in problem
    # `sourced remove` is how to drop them.
    assert run("remove", str(folder)).exit_code == 0
    assert titles() == []


def test_an_empty_source_is_refused_not_read_as_the_current_folder(cli_env, monkeypatch):
    folder = _folder(cli_env)
    monkeypatch.chdir(folder)  # "" as a path is "." : this folder, registered already
    for args in (("add", ""), ("index", " "), ("remove", ""), ("remove", str(folder), "")):
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "empty SOURCE" in result.output and len(result.output.strip().splitlines()) == 1
    assert titles() == ["Chowder contest", "Harbour bridge reopens"]


def test_a_rebuild_keeps_what_cannot_be_read_too(cli_env):
    folder = _folder(cli_env)
    (folder / "a.md").write_text("---\ntitle: [unclosed\n---\nMaria Lopez won.\n")
    result = run("index", "--rebuild")
    assert result.exit_code == 0 and "indexed article kept" in result.output, result.output
    assert titles() == ["Chowder contest", "Harbour bridge reopens"]
    for f in folder.iterdir():
        f.unlink()
    result = run("index", "--rebuild")
    assert "no article files now" in result.output, result.output
    assert titles() == ["Chowder contest", "Harbour bridge reopens"]
    # What a rebuild kept still answers.
    answer = json.loads(run("ask", "--json", "who won the chowder contest?").output)
    assert answer["hits"] and answer["hits"][0]["title"] == "Chowder contest"


def test_a_jsonl_line_that_fails_keeps_its_article_even_when_lines_move(cli_env):
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML)
    folder = cli_env / "feed"
    folder.mkdir()

    def line(name, text):
        return json.dumps({"title": name, "text": text, "url": f"https://news.example/{name}"})

    good = [line("Harbour", "The harbour bridge reopened on Monday."), line("Chowder", "Maria Lopez won the contest.")]
    (folder / "items.jsonl").write_text("\n".join(good) + "\n")
    assert run("index", str(folder)).exit_code == 0
    assert titles() == ["Chowder", "Harbour"]
    # The second line breaks, and a new line is added at the top: the broken one is line 3 now.
    new = line("Ferry", "The ferry sailed again.")
    (folder / "items.jsonl").write_text("\n".join([new, good[0], '{"title": "Chowder", "text": ']) + "\n")
    result = run("index")
    assert result.exit_code == 0, result.output
    assert "kept" in result.output and "1 gone" not in result.output, result.output
    assert titles() == ["Chowder", "Ferry", "Harbour"]


def test_a_rebuild_keeping_an_article_another_source_also_holds_writes_it_once(cli_env):
    # B is registered first; A adds an article; B then gets a copy of it (same link); A's
    # file breaks; a rebuild reads B first (it claims the article), then keeps A's: once.
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML)
    a, b = cli_env / "A", cli_env / "B"
    a.mkdir()
    b.mkdir()
    linked = GOOD.replace("outlet: Gazette", "url: https://news.example/chowder\noutlet: Gazette")
    (b / "other.md").write_text("Harbour bridge reopens\n\nThe harbour bridge reopened on Monday.\n")
    assert run("add", str(b)).exit_code == 0
    (a / "a.md").write_text(linked)
    assert run("add", str(a)).exit_code == 0
    (b / "copy.md").write_text(linked)
    assert run("index").exit_code == 0
    (a / "a.md").write_text("---\ntitle: [unclosed\n---\nx\n")
    result = run("index", "--rebuild")
    assert result.exit_code == 0 and "unexpected failure" not in result.output, result.output
    assert titles() == ["Chowder contest", "Harbour bridge reopens"]


def test_an_emptied_jsonl_keeps_its_articles_and_a_line_that_never_held_one_keeps_none(cli_env):
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML)
    folder = cli_env / "feed"
    folder.mkdir()
    rows = [
        json.dumps({"title": t, "text": f"{t} happened on Monday.", "url": f"https://n.example/{t}"}) for t in "ABC"
    ]
    (folder / "items.jsonl").write_text("\n".join(rows) + "\n")
    assert run("index", str(folder)).exit_code == 0
    (folder / "items.jsonl").write_text("")  # emptied mid-save
    assert run("index").exit_code == 0
    assert titles() == ["A", "B", "C"]
    # A title-only line (no article text) never held an article: deleting B is a deletion.
    title_only = json.dumps({"title": "Only a title"})
    (folder / "items.jsonl").write_text("\n".join([rows[0], title_only, rows[2]]) + "\n")
    assert run("index").exit_code == 0
    assert titles() == ["A", "C"]
