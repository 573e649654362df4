"""Issue 27, item 9: `sourced show DOC_ID`, where "N more passages from this article" leads."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from tests.helpers import BUNDLED


@pytest.fixture
def run(cli_env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")

    def invoke(*args: str):
        result = CliRunner().invoke(main, list(args))
        assert "Traceback" not in result.output, result.output
        return result

    assert invoke("index", str(BUNDLED)).exit_code == 0
    return invoke


def test_more_passages_names_the_command_that_shows_them(run):
    asked = run("ask", "-k", "3", "coalition letter to Amazon about Rekognition")
    assert asked.exit_code == 0, asked.output
    doc_id = re.search(r"more passages? from this article: sourced show ([0-9a-f]{16}) --passages", asked.stdout)[1]
    shown = run("show", doc_id, "--passages")
    assert shown.exit_code == 0, shown.output
    article = json.loads(run("show", doc_id, "--json").stdout)
    assert article["doc_id"] == doc_id and article["title"] in shown.stdout
    assert f"id {doc_id} · from {BUNDLED}" in shown.stdout
    n = len(article["passages"])
    assert n > 1 and f"Passage {n} of {n}" in shown.stdout
    for passage in article["passages"]:
        assert passage["text"] == article["text"][passage["start"] : passage["end"]]
        assert passage["text"].splitlines()[0] in shown.stdout


def test_show_prints_the_cleaned_article_with_title_outlet_date_and_link(run):
    hit = json.loads(run("ask", "--json", "Electronic Frontier Foundation coalition").stdout)["hits"][0]
    shown = run("show", hit["doc_id"][:8])  # the start of an id is enough
    assert shown.exit_code == 0, shown.output
    article = json.loads(run("show", hit["doc_id"], "--json").stdout)
    lines = shown.stdout.splitlines()
    assert lines[0] == hit["title"]
    where = hit["url"] or f"source: {hit['source']}"
    assert where in lines
    if hit["outlet"] or hit["published"]:
        assert " · ".join(x for x in (hit["outlet"], hit["published"] and hit["published"][:10]) if x) in lines
    assert article["text"] in shown.stdout and "Passage 1 of" not in shown.stdout


@pytest.mark.parametrize(
    "doc_id, says", [("0" * 16, "No article with id"), ("7d6", "No article with id"), ("a" * 100_000, "No article")]
)
def test_an_unknown_id_is_one_line_and_exit_1(run, doc_id, says):
    result = run("show", doc_id)
    assert result.exit_code == 1 and result.output.startswith(f"error: {says}") and result.output.count("\n") == 1
    assert len(result.output) < 300  # a pasted wall of text is not echoed back
