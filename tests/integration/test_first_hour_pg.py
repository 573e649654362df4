"""Issue 27, item 10, through the CLI on the run's PostgreSQL (tests/conftest.py): the
PostgreSQL store keeps its own bookkeeping, and `compact` leaves rollback working."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest
from click.testing import CliRunner

from retrieval.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def run(postgres, cli_env, monkeypatch):
    """`run(*args, pg=True)`: the CLI on a schema of its own in the shared server, beside
    the folder store in the same index folder (cli_env)."""
    _, url = postgres
    collection = f"c{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("COLUMNS", "1000")

    def invoke(*args: str, pg: bool = True):
        chosen = ["--store", url, "--collection", collection] if pg else []
        result = CliRunner().invoke(main, [*chosen, *args])
        assert "Traceback" not in result.output, result.output
        return result

    return invoke


def folders(tmp_path, *names: str):
    made = []
    for name in names:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "story.txt").write_text(f"{name.title()} story\n\nThe {name} council met on Tuesday.\n")
        made.append(folder)
    return made


def sources(result) -> dict[str, dict]:
    return {s["path"]: s for s in json.loads(result.stdout)["sources"]}


def test_the_postgresql_store_keeps_its_own_source_bookkeeping(run, cli_env, tmp_path):
    shared, only_pg = folders(tmp_path, "shared", "elsewhere")
    assert run("add", str(shared), pg=False).exit_code == 0  # the folder store
    assert run("add", str(shared), str(only_pg)).exit_code == 0  # the database
    assert run("remove", str(only_pg)).exit_code == 0
    shutil.rmtree(shared)
    assert run("index").exit_code == 2  # the database's sync finds the folder gone...
    assert sources(run("sources", "--json"))[str(shared)]["problem"] == "no such file or folder"
    plain = sources(run("sources", "--json", pg=False))
    assert set(plain) == {str(shared)}  # ...the folder store never heard of the other source
    assert plain[str(shared)]["problem"] is None and plain[str(shared)]["last_sync"]  # nor of that sync
    (state,) = cli_env.rglob("postgresql-*")  # its own, beside the folder store's
    assert (state / "sources-state.json").is_file() and (cli_env / "index" / "sources-state.json").is_file()


def test_compact_on_postgresql_leaves_rollback_working(run, tmp_path):
    first, second = folders(tmp_path, "first", "second")
    assert run("add", str(first)).exit_code == 0
    assert run("add", str(second)).exit_code == 0
    compacted = run("compact")
    assert compacted.exit_code == 0, compacted.output
    assert "rollback still reaches the last 5 (index.keep_generations)" in compacted.output
    rolled = run("rollback")
    assert rolled.exit_code == 0, rolled.output
    assert set(sources(run("sources", "--json"))) == {str(first)}
    assert run("doctor").exit_code == 0
