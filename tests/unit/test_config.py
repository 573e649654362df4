from pathlib import Path

import pytest

from retrieval.config import build_config, load_config, render_default_yaml, settings_table
from retrieval.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_file_is_generated_from_the_settings_table():
    # config/default.yaml documents the defaults; it must not drift from the code.
    assert (ROOT / "config" / "default.yaml").read_text(encoding="utf-8") == render_default_yaml()


def test_every_setting_has_help():
    rows = settings_table()
    assert len(rows) > 10
    assert all(len(row.help) > 15 for row in rows)


def test_default_file_loads_to_defaults():
    assert load_config(ROOT / "config" / "default.yaml").search == build_config({}).search


@pytest.mark.parametrize(
    "data, message",
    [
        ({"serch": {"k": 3}}, "Unknown config section 'serch'"),
        ({"search": {"kk": 3}}, "Unknown setting 'search.kk'"),
        ({"search": {"k": "five"}}, "'search.k' must be int"),
        ({"search": {"k": True}}, "'search.k' must be int"),
        ({"search": {"k": 0}}, "at least 1"),
        ({"clean": {"drop_lines": ["(unclosed"]}}, "invalid pattern"),
        ({"search": 3}, "must be a mapping"),
        ({"search": {"question_alpha": 1.5}}, "Settings 'search.alpha' and 'search.question_alpha' must be in"),
        ({"search": {"answer_threshold": 1.2}}, "Setting 'search.answer_threshold' must be in \\[0, 1\\]"),
        (["a"], "must be a mapping"),
    ],
)
def test_bad_settings_are_errors(data, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        build_config(data)


def test_values_are_coerced():
    config = build_config({"search": {"min_score": 1}, "sources": {"paths": "one/folder"}})
    assert config.search.min_score == 1.0 and isinstance(config.search.min_score, float)
    assert config.sources.paths == ("one/folder",)


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    file = tmp_path / "conf.yaml"
    file.write_text("index:\n  dir: idx\n")
    config = load_config(file)
    assert config.base_dir == tmp_path


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("search: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_the_store_setting_shows_where_it_came_from_and_never_its_password(monkeypatch):
    from click.testing import CliRunner

    from retrieval.cli import main

    monkeypatch.setenv("SOURCED_STORE", "postgresql://reader:hunter2@db.example:5432/news")
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("index.store ="))
    assert "postgresql://reader:***@db.example:5432/news" in line and "from $SOURCED_STORE or --store" in line
    assert "hunter2" not in result.stdout
    bad = CliRunner().invoke(main, ["--store", "sqlite:///x.db", "config"])
    assert bad.exit_code == 1 and "is not a PostgreSQL URL" in bad.stderr


def test_a_read_store_needs_a_store():
    with pytest.raises(ConfigError, match=r"needs 'index\.store'"):
        build_config({"index": {"read_store": "postgresql://r@replica/db"}})
    # config checks shapes; the store registry checks the name (the URL's scheme) when a
    # collection is opened
    from retrieval.wiring import check_choices

    with pytest.raises(ConfigError, match="is not a PostgreSQL URL"):
        check_choices(build_config({"index": {"store": "mysql://x"}}))
