"""The CLI: output contracts, error lines and exit codes, help for every command."""

import json

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from tests.helpers import BUNDLED, HASH_CONFIG_YAML


@pytest.fixture
def env(cli_env):
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML + "search:\n  min_score: 0.1\n")
    return cli_env


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def test_every_command_has_help():
    import click

    names = main.list_commands(click.Context(main))
    assert "serve" in names  # added by the bot through the sourced.commands entry point
    for name in names:
        command = main.get_command(click.Context(main), name)
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert command.help and len(command.help.split()) > 4, name


def test_index_then_ask_json(env):
    result = run("index", str(BUNDLED))
    assert result.exit_code == 0, result.output
    assert "Indexed 15 documents" in result.output
    again = run("index")  # no PATH: the folder indexed last time
    assert "up to date" in again.output and "nothing to embed" in again.output

    result = run("ask", "--json", "-k", "3", "coalition of civil and human rights groups")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {
        "question",
        "answered",
        "confidence",
        "support",
        "answered_by",
        "hits",
        "took_ms",
        "as_of",
        "since",
        "until",
        "understood",
        "excluded",
        "question_dates",
    }
    assert len(data["hits"]) == 3
    # The confidence is that of what is shown, never of a passage left off the page.
    shown = max(max(h["similarity"], h["sentence_similarity"]) for h in data["hits"])
    assert data["confidence"] == round(shown, 4)
    hit = data["hits"][0]
    contract = {"rank", "score", "text", "title", "outlet", "published", "url", "source", "doc_id"}
    assert contract <= set(hit)
    assert isinstance(hit["score"], float) and hit["rank"] == 1
    assert hit["highlight"] == hit["text"][hit["highlight_start"] : hit["highlight_end"]]


def test_ask_reads_questions_from_stdin(env):
    run("index", str(BUNDLED))
    result = run(
        "ask", "--json", "-", input="Amazon Rekognition police\n\nIRS facial recognition\n" + "x" * 2000 + "\n"
    )
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["question"] for d in lines[:2]] == ["Amazon Rekognition police", "IRS facial recognition"]
    assert all(d["hits"] for d in lines[:2])
    assert "error" in lines[2] and lines[2]["hits"] == []


def test_first_ask_builds_the_index(env, monkeypatch):
    monkeypatch.delenv("SOURCED_INDEX_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(env / "xdg"))
    result = run("ask", "Rekognition")
    assert result.exit_code == 0, result.output
    assert "building one" in result.output
    assert "relevance" in result.output
    assert (env / "xdg" / "sourced" / "index" / "CURRENT").is_file()


def test_an_index_of_an_earlier_version_is_upgraded_by_the_next_question(env, tmp_path):
    # What format 4 left: one generation whose manifest names the folder it was built from.
    folder = tmp_path / "index"
    (folder / "gen-000001").mkdir(parents=True)
    (folder / "gen-000001" / "manifest.json").write_text(json.dumps({"format_version": 4, "sources": [str(BUNDLED)]}))
    (folder / "CURRENT").write_text("gen-000001\n")
    result = run("ask", "Rekognition")
    assert result.exit_code == 0, result.output
    assert "written by an earlier version" in result.output and "relevance" in result.output
    assert json.loads(run("sources", "--json").stdout)["sources"][0]["path"] == str(BUNDLED)


def index_with_an_older_model(monkeypatch) -> None:
    """Index the bundled articles as a model of another id would have (the hash embedder
    under another name), as an earlier default model left the index."""
    from retrieval.embedding import HashEmbedder

    class Older(HashEmbedder):
        def __init__(self, dimension: int = 256) -> None:
            super().__init__(dimension)
            self.model_id = "older-model"

    with monkeypatch.context() as patch:
        patch.setattr("retrieval.embedding.HashEmbedder", Older)
        assert run("index", str(BUNDLED)).exit_code == 0


def test_the_default_index_built_by_another_model_is_re_embedded_by_the_next_question(env, monkeypatch):
    # As after an upgrade that changed the default model: the default index (not chosen by
    # the user) was built by a model of another id.
    monkeypatch.delenv("SOURCED_INDEX_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(env / "xdg"))
    index_with_an_older_model(monkeypatch)
    result = run("ask", "Rekognition")
    assert result.exit_code == 0, result.output
    assert "built with older-model; re-embedding it with hash-v1-256" in result.output
    assert "relevance" in result.output
    again = run("ask", "Rekognition")
    assert "re-embedding" not in again.output and "relevance" in again.output


def test_a_chosen_index_built_by_another_model_is_not_rebuilt_behind_the_users_back(env, monkeypatch):
    index_with_an_older_model(monkeypatch)
    result = run("ask", "Rekognition")
    assert result.exit_code != 0
    assert "built with the model older-model" in result.output and "Run `sourced index`" in result.output
    assert "Traceback" not in result.output


def test_human_output_shows_title_outlet_date_and_link(env):
    run("index", str(BUNDLED))
    result = run("ask", "-k", "15", "facial recognition")
    assert (
        "https://www.japantimes.co.jp/opinion/2022/02/07/commentary/world-commentary/facial-recognition-overlords/"
        in (result.stdout)
    )
    assert "The Japan Times · 2022-02-07" in result.stdout
    assert "source: 003_dda86c09921c1694.txt" in result.stdout


def test_sources_lists_documents(env):
    run("index", str(BUNDLED))
    result = json.loads(run("sources", "--json").stdout)
    (source,) = result["sources"]
    assert source["path"] == str(BUNDLED) and source["kind"] == "folder" and source["articles"] == 15
    assert source["last_sync"] and source["problem"] is None
    assert len(result["articles"]) == 15
    assert set(result["articles"][0]) >= {"title", "url", "outlet", "published", "source", "doc_id"}
    assert {a["source"] for a in result["articles"]} == {str(BUNDLED)}
    assert run("sources").stdout.startswith("15 articles")


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "--index-dir", "/nonexistent/idx", "hello"], "does not exist"),
        (["ask", "   "], "question is empty"),
        (["sources"], "does not exist"),
    ],
)
def test_errors_are_one_line_without_traceback(env, args, message):
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_unknown_config_key_is_an_error(env):
    (env / "config.yaml").write_text("search:\n  top_k: 3\n")
    result = run("ask", "hello")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("error: Unknown setting 'search.top_k'. Known in 'search': ")
    assert ", k, " in line and "\n" not in line


def test_config_yaml_is_valid_and_complete():
    result = run("config", "--yaml")
    assert result.exit_code == 0 and "max_tokens: 128" in result.stdout
    assert "search.min_score" in run("config").stdout


def test_doctor_reports_a_consistent_index(env):
    run("index", str(BUNDLED))
    result = run("doctor")
    assert result.exit_code == 0 and "OK: the index" in result.stdout


def test_doctor_finds_damage(env):
    import json as _json

    run("index", str(BUNDLED))
    index_dir = env / "index"
    gen = (index_dir / "CURRENT").read_text().strip()
    manifest = index_dir / gen / "manifest.json"
    data = _json.loads(manifest.read_text())
    data["chunks"] += 1
    manifest.write_text(_json.dumps(data))
    result = run("doctor")
    assert result.exit_code == 1 and "manifest says" in result.stderr and "--rebuild" in result.stderr


def test_strict_index_fails_when_files_are_skipped(env, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("Title\n\nSome text.\n")
    (folder / "bad.txt").write_bytes(b"\x89PNG\r\n\x1a\nxxxx")
    lenient = run("index", str(folder))
    assert lenient.exit_code == 0 and "skipped: bad.txt: binary file (a PNG image)" in lenient.stderr
    strict = run("index", "--strict", str(folder))
    assert strict.exit_code == 3


def test_config_shows_the_value_in_force_and_where_it_came_from(tmp_path, monkeypatch):
    config = tmp_path / "k3.yaml"
    config.write_text("search:\n  k: 3\n")
    out = run("--config", str(config), "config").stdout
    assert f"# settings from {config}" in out
    assert f"search.k = 3  (int, set in {config}; default 5)" in out
    assert 'search.mode = "hybrid"  (str, default)' in out
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "elsewhere"))
    rows = {r["key"]: r for r in json.loads(run("--config", str(config), "config", "--json").stdout)}
    assert rows["search.k"]["value"] == 3 and rows["search.k"]["default"] == 5
    assert rows["index.dir"] == {**rows["index.dir"], "value": str(tmp_path / "elsewhere")}
    assert "SOURCED_INDEX_DIR" in rows["index.dir"]["origin"]
