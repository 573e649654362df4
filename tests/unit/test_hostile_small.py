"""Bad input found by an adversarial try (2026-12-06): each gets one clear line and a
non-zero exit, never "unexpected failure", and changes nothing."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from retrieval.config import build_config
from retrieval.errors import ConfigError
from tests.helpers import BUNDLED, HASH_CONFIG_YAML


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("http://[::1", "not a valid web address (Invalid IPv6 URL)"),
        ("http://", "no host after //"),
        ("https://example.org:port/", "not a valid web address"),
    ],
)
def test_a_malformed_web_address_is_one_clear_line(cli_env, address, said):
    result = run("add", address)
    assert result.exit_code == 1 and said in result.output, result.output
    assert "unexpected failure" not in result.output and len(result.output.strip().splitlines()) == 1


def test_an_address_httpx_refuses_is_a_fetch_error_not_a_crash():
    import httpx

    from retrieval.ingest.web.fetch import Fetcher, FetchError, FetchSettings

    with pytest.raises(FetchError, match="not a valid web address"):
        Fetcher(FetchSettings(host_delay=0.0, timeout=2.0)).get("http://999.999.999.999/")
    assert not issubclass(httpx.InvalidURL, httpx.HTTPError)  # why it needs its own clause


def test_text_that_is_not_utf8_is_named_in_config_and_question_files(cli_env):
    bad = cli_env / "bad.yaml"
    bad.write_bytes(b"search:\n  min_score: \xff\xfe\n")
    result = run("--config", str(bad), "ask", "who?")
    assert result.exit_code == 1 and "is not UTF-8 text" in result.output, result.output
    questions = cli_env / "q.yaml"
    questions.write_bytes(b"questions:\n  - q: caf\xe9?\n")
    result = run("eval", str(questions))
    assert result.exit_code == 1 and "is not UTF-8 text" in result.output, result.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_device_is_not_registered_as_a_folder(cli_env):
    fifo = cli_env / "pipe"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        if not os.path.exists(path):
            continue
        result = run("add", path)
        assert result.exit_code == 2 and "not a regular file or folder" in result.output, result.output
    listing = run("sources").output
    assert "pipe" not in listing and "/dev/zero" not in listing


@pytest.mark.parametrize(
    "search", [{"same_story": 0}, {"same_story": -1}, {"duplicate_threshold": 0}, {"max_question_chars": 0}]
)
def test_settings_that_would_fold_everything_or_refuse_every_question_are_refused(search):
    with pytest.raises(ConfigError, match="search"):
        build_config({"search": search})


def test_articles_with_no_outlet_are_not_counted_as_an_outlet(cli_env):
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML)
    folder = cli_env / "mine"
    folder.mkdir()
    (folder / "a.txt").write_text("Harbour bridge reopens\n\nThe harbour bridge reopened on Monday.\n")
    assert run("index", str(folder)).exit_code == 0
    assert "1 article, 1 passage, 0 outlets" in run("sources").output
    assert run("add", str(BUNDLED)).exit_code == 0
    stats = run("sources").output
    assert "(unknown outlet)" not in stats.splitlines()[0]


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("--since=", "A date is empty"),
        ("--until=", "A date is empty"),
        ("--as-of=", "A date is empty"),
        ("--outlet=", "The outlet filter is empty"),
        ("--source= ", "The source filter is empty"),
    ],
)
def test_an_empty_filter_value_is_refused_not_read_as_no_limit(cli_env, option, said):
    # `--since "$SINCE"` with SINCE unset answered from every date without a word.
    result = run("ask", "who urged Amazon?", option)
    assert result.exit_code == 1 and said in result.output, result.output
    assert "unexpected failure" not in result.output


def test_an_empty_date_in_a_json_line_fails_that_line_only(cli_env):
    import json

    assert run("index", str(BUNDLED)).exit_code == 0
    lines = '{"question": "who urged Amazon?", "since": ""}\n{"question": "who urged Amazon?"}\n'
    result = CliRunner().invoke(main, ["ask", "--json", "-"], input=lines)
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 2, result.output
    assert "A date is empty" in records[0]["error"] and records[0]["hits"] == []
    assert "error" not in records[1] and records[1]["hits"]


def test_filters_that_leave_no_article_say_so_not_that_nothing_matches(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from retrieval.cli import main
    from tests.helpers import BUNDLED, HASH_CONFIG_YAML

    config = tmp_path / "config.yaml"
    config.write_text(HASH_CONFIG_YAML, encoding="utf-8")
    monkeypatch.setenv("SOURCED_CONFIG", str(config))
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "idx"))
    run = CliRunner().invoke
    assert run(main, ["index", str(BUNDLED)]).exit_code == 0
    late = run(main, ["ask", "amazon", "--since", "2030-01-01"])
    assert late.exit_code == 0
    assert (
        "No article in the collection is within the filters set (since 2030-01-01): nothing was searched."
        in late.stdout
    )
    early = run(main, ["ask", "amazon", "--as-of", "2000-01-01", "--outlet", "CNET"])
    assert "within the filters set (outlet “CNET”; as of 2000-01-01)" in early.stdout
    found = run(main, ["ask", "amazon", "--outlet", "CNET"])
    assert "within the filters set" not in found.stdout and "Nothing in the collection" not in found.stdout


def test_an_article_dated_after_today_is_said_once_and_filters_count_only_what_may_be_shown(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from retrieval.cli import main
    from tests.helpers import HASH_CONFIG_YAML

    config = tmp_path / "config.yaml"
    config.write_text(HASH_CONFIG_YAML, encoding="utf-8")
    monkeypatch.setenv("SOURCED_CONFIG", str(config))
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "idx"))
    news = tmp_path / "news"
    news.mkdir()
    (news / "old.md").write_text("---\ntitle: Library opens\ndate: 2024-03-01\n---\nThe library opened.\n")
    (news / "future.md").write_text("---\ntitle: Seawall finished\ndate: 2999-02-01\n---\nThe seawall is done.\n")
    run = CliRunner().invoke
    first = run(main, ["index", str(news)])
    assert (
        first.exit_code == 0 and "future.md: dated 2999-02-01, after today: not shown before that day" in first.output
    )
    assert "after today" not in run(main, ["index"]).output  # said when it comes in, not at every sync
    # Only the future article is after May 2025; hidden as of today, it must not count.
    late = run(main, ["ask", "library", "--since", "2025-05-01"])
    assert "No article in the collection is within the filters set (since 2025-05-01)" in late.stdout


@pytest.mark.parametrize("invisible", ["\u200b", "\u00ad", "\u2060", "\ufeff"])
def test_an_invisible_character_inside_a_pasted_name_does_not_split_it(invisible):
    from retrieval.query.service import clean_question

    pasted = f"Who is Marisol Qui{invisible}ñones-Oyelaran?"
    assert clean_question(pasted, 1000) == "Who is Marisol Quiñones-Oyelaran?"


def test_a_short_id_prefix_is_told_how_long_it_must_be(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from retrieval.cli import main
    from tests.helpers import BUNDLED, HASH_CONFIG_YAML

    config = tmp_path / "config.yaml"
    config.write_text(HASH_CONFIG_YAML, encoding="utf-8")
    monkeypatch.setenv("SOURCED_CONFIG", str(config))
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "idx"))
    assert CliRunner().invoke(main, ["index", str(BUNDLED)]).exit_code == 0
    short = CliRunner().invoke(main, ["show", "d0b00"])
    assert short.exit_code != 0 and "give at least 6 characters of it" in short.output
