"""Named collections from the terminal: `sourced --collection NAME …` (or
SOURCED_COLLECTION) acts on that collection only."""

from __future__ import annotations

import json

from click.testing import CliRunner

from retrieval.cli import main
from tests.helpers import BUNDLED


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def test_collections_are_separate_and_named_ones_start_empty(cli_env, tmp_path):
    birds = tmp_path / "birds"
    birds.mkdir()
    (birds / "k.txt").write_text("Kestrels\n\nThe kestrel hovered over the verge.\n")
    assert run("add", str(BUNDLED)).exit_code == 0
    missing = run("--collection", "birds", "ask", "kestrel")
    assert missing.exit_code == 1
    assert (
        missing.stderr.strip()
        == "error: No collection 'birds' yet. Create it with `sourced --collection birds add SOURCE`."
    )
    assert run("--collection", "birds", "add", str(birds)).exit_code == 0
    listed = json.loads(run("--collection", "birds", "sources", "--json").stdout)
    assert [a["title"] for a in listed["articles"]] == ["Kestrels"]
    default = json.loads(run("sources", "--json").stdout)
    assert len(default["articles"]) == 15 and "Kestrels" not in {a["title"] for a in default["articles"]}
    asked = json.loads(run("ask", "--json", "kestrel hovered", env={"SOURCED_COLLECTION": "birds"}).stdout)
    assert {h["title"] for h in asked["hits"]} == {"Kestrels"}
    assert (tmp_path / "collections" / "birds" / "CURRENT").is_file()


def test_a_bad_collection_name_is_one_line(cli_env):
    result = run("--collection", "../etc", "ask", "x")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("error: '../etc' is not a collection name")
