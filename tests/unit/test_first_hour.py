"""The first hour of a new user (issue 27), through the CLI: the samples make way for the
user's own news, options after the command, plain labels on results, what the first run
is doing, sources and collections, history, idempotent commands with one clear line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from tests.helpers import BUNDLED, HASH_CONFIG_YAML


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def article(folder, name, title, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"{title}\n\n{body}\n")


def keys() -> list[str]:
    return [s["path"] for s in json.loads(run("sources", "--json").stdout)["sources"]]


@pytest.fixture
def news(tmp_path):
    folder = tmp_path / "news"
    article(folder, "chowder.txt", "Harbour chowder contest won by a fisherman", "Ann Lee won the chowder contest.")
    article(folder, "ferry.txt", "Ferry timetable changes in May", "The island ferry runs hourly from May.")
    return folder


@pytest.fixture
def new_user(cli_env, monkeypatch):
    """A user with no index yet: the default collection in the per-user data folder."""
    monkeypatch.delenv("SOURCED_INDEX_DIR")
    return cli_env


# ---------------------------------------------------------------- 1. the samples make way


def test_the_first_source_of_ones_own_replaces_the_samples(new_user, news):
    assert run("ask", "facial recognition").exit_code == 0  # the first question: the samples
    assert keys() == [str(BUNDLED)]
    added = run("add", str(news))
    assert added.exit_code == 0, added.output
    assert "sample articles made way for your own" in added.stderr
    assert "sourced add --samples" in added.stderr
    assert keys() == [str(news)]
    answer = json.loads(run("ask", "--json", "Who won the chowder contest?").stdout)
    assert {h["title"] for h in answer["hits"]} <= {
        "Harbour chowder contest won by a fisherman",
        "Ferry timetable changes in May",
    }
    # They come back when asked for, next to the user's own.
    back = run("add", "--samples")
    assert back.exit_code == 0, back.output
    assert sorted(keys()) == sorted([str(news), str(BUNDLED)])


def test_a_typo_leaves_the_samples_in_place(new_user, tmp_path):
    run("index")
    result = run("add", str(tmp_path / "nwes"))
    assert result.exit_code == 2
    assert keys() == [str(BUNDLED)]


def test_removing_every_source_does_not_bring_the_samples_back(new_user, news):
    run("index")
    run("add", str(news))
    removed = run("remove", str(news))
    assert removed.exit_code == 0, removed.output
    assert run("index").exit_code == 0
    assert keys() == []
    assert json.loads(run("ask", "--json", "facial recognition").stdout)["hits"] == []


def test_a_collection_started_with_ones_own_news_never_gets_the_samples(new_user, news):
    assert run("add", str(news)).exit_code == 0
    assert "sample" not in run("index").stderr
    assert keys() == [str(news)]


# ---------------------------------------------------------------- 2. options after the command


def test_collection_store_and_config_after_the_command(new_user, news, tmp_path):
    config = tmp_path / "other.yaml"
    config.write_text(HASH_CONFIG_YAML + "search:\n  k: 2\n")
    result = run("add", str(news), "--collection", "local")
    assert result.exit_code == 0, result.output
    assert json.loads(run("sources", "--json", "--collection", "local").stdout)["sources"][0]["path"] == str(news)
    assert run("sources", "--json").exit_code == 1  # the default collection: no index yet
    answer = run("ask", "--collection", "local", "--config", str(config), "--json", "chowder")
    assert answer.exit_code == 0, answer.output
    assert len(json.loads(answer.stdout)["hits"]) == 2  # search.k from the --config after the command
    # After the command wins over before it.
    later = run("--collection", "nope", "sources", "--json", "--collection", "local")
    assert json.loads(later.stdout)["sources"][0]["path"] == str(news)
    bad = run("index", "--store", "mysql://x")
    assert bad.exit_code == 1 and bad.stderr.startswith("error: ") and "Traceback" not in bad.output
    for command in ("index", "add", "remove", "ask", "sources", "rollback", "doctor", "compact", "config", "eval"):
        assert "--collection" in run(command, "--help").output, command


# ---------------------------------------------------------------- 7. idempotence and messages


def test_adding_a_source_again_is_nothing_to_do(cli_env, news):
    assert run("add", str(news)).exit_code == 0
    again = run("add", str(news))
    assert again.exit_code == 0
    assert again.stderr.strip().splitlines() == [f"{news}: already a source; nothing to do"]


def test_a_typo_is_one_error(cli_env, news, tmp_path):
    run("add", str(news))
    result = run("add", str(tmp_path / "nwes"))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no such file or folder" in lines[0]


def test_a_mistyped_scheme_is_named(cli_env):
    result = run("add", "htp://example.org/feed.xml")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: htp://example.org/feed.xml: htp:// is not a web address sourced reads (use http:// or "
        "https://), and there is no such file or folder."
    )


def test_remove_says_what_is_left(cli_env, news, tmp_path):
    article(tmp_path / "more", "fair.txt", "County fair opens", "The county fair opened on Friday.")
    run("add", str(tmp_path / "more"))
    run("add", str(news))
    result = run("remove", str(news))
    assert result.exit_code == 0
    assert "from 0 files" not in result.stderr and "Indexed" not in result.stderr
    assert f"removed {news} and its 2 articles" in result.stderr
    assert "The collection now holds 1 document (" in result.stderr


# ---------------------------------------------------------------- 4. the first run says what it does


def test_the_first_build_says_the_model_is_loading(cli_env, monkeypatch):
    from retrieval.embedding import HashEmbedder

    class Cold(HashEmbedder):
        """An embedder whose model is not in memory yet, as the real one on a first run."""

        loaded = False

    monkeypatch.setattr("retrieval.embedding.configured_embedder", lambda settings: Cold())
    first = run("index", str(BUNDLED))
    assert first.exit_code == 0, first.output
    assert first.stderr.index("Loading the embedding model…") < first.stderr.index("Embedding chunks")
    # Nothing to embed, nothing to load: no such line.
    assert "Loading" not in run("index").stderr


# ---------------------------------------------------------------- 5. sources, articles, collections


def test_sources_lists_the_sources_and_articles_only_when_asked(cli_env, news):
    run("add", str(news))
    plain = run("sources")
    assert plain.exit_code == 0
    assert str(news) in plain.stdout and "Harbour chowder" not in plain.stdout
    assert "sourced sources --articles" in plain.stdout
    full = run("sources", "--articles")
    assert "Harbour chowder contest won by a fisherman" in full.stdout
    # Long lines are never wrapped when piped: a source and its facts stay on one line.
    line = next(line for line in full.stdout.splitlines() if str(news) in line)
    assert len(line) > 80 and "2 articles, last sync" in line
    data = json.loads(run("sources", "--json").stdout)  # as before: sources and articles
    assert set(data) == {"sources", "articles"} and len(data["articles"]) == 2


def test_collections_lists_each_with_its_counts(new_user, news, tmp_path):
    article(tmp_path / "more", "fair.txt", "County fair opens", "The county fair opened on Friday.")
    run("add", str(news))
    run("--collection", "local", "add", str(tmp_path / "more"))
    (Path(os.environ["XDG_DATA_HOME"]) / "sourced" / "collections" / "empty").mkdir(parents=True)
    result = run("collections")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("* default  1 source, 2 articles")
    assert lines[1].startswith("  empty  no index yet")
    assert lines[2].startswith("  local  1 source, 1 article")
    rows = json.loads(run("collections", "--json").stdout)["collections"]
    assert [(r["name"], r["sources"], r["articles"]) for r in rows] == [
        ("default", 1, 2),
        ("empty", 0, 0),
        ("local", 1, 1),
    ]


# ---------------------------------------------------------------- 6. history and rollback


def test_history_shows_what_each_generation_changed_and_rollback_what_it_undid(cli_env, news, tmp_path):
    more = tmp_path / "more"
    article(more, "fair.txt", "County fair opens", "The county fair opened on Friday.")
    run("add", str(news))
    run("add", str(more))
    article(news, "ferry.txt", "Ferry timetable changes in June", "The island ferry runs hourly from June.")
    run("index")
    run("remove", str(more))
    result = run("history")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert f"add {news}" in text and f"source added: {news}" in text
    assert "+1 added, -0 removed, 0 changed; source added: " + str(more) in text
    assert "+0 added, -0 removed, 1 changed" in text and "~ Ferry timetable changes in June" in text
    assert f"-1 removed, 0 changed; source removed: {more}" in text and "- County fair opens" in text
    assert text.count("(live)") == 1
    steps = json.loads(run("history", "--json").stdout)["generations"]
    assert [s["action"].split()[0] for s in steps] == ["add", "add", "sync", "remove"]
    assert steps[-1]["removed"][0]["title"] == "County fair opens" and steps[-1]["live"]

    undo = run("rollback")
    assert undo.exit_code == 0
    assert f"(remove {more}: +0 added, -1 removed, 0 changed; source removed: {more})" in undo.stderr
    # The restored source shows when it was really synced last, not "not synced since added".
    restored = next(s for s in json.loads(run("sources", "--json").stdout)["sources"] if s["path"] == str(more))
    assert restored["last_sync"] is not None


# ---------------------------------------------------------------- 3. one figure, in the order shown


def test_one_figure_agrees_with_the_order_with_a_plain_label(cli_env):
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML + "search:\n  min_score: 0.3\n")
    run("index", str(BUNDLED))
    data = json.loads(run("ask", "--json", "-k", "8", "coalition of civil and human rights groups").stdout)
    hits = data["hits"]
    figures = [h["strength"] for h in hits]
    assert figures == sorted(figures, reverse=True)  # agrees with the order
    assert figures[0] == pytest.approx(data["confidence"], abs=1e-4)  # the first carries the confidence
    assert {"similarity", "sentence_similarity", "score"} <= set(hits[0])  # nothing removed
    for h in hits:
        want = "strong" if h["strength"] >= 0.3 else ("fair" if h["strength"] >= 0.2 else "weak")
        assert h["label"] == want
    assert hits[0]["label"] == "strong" and hits[-1]["label"] != "strong"
    text = run("ask", "-k", "8", "coalition of civil and human rights groups").stdout
    assert f"relevance {figures[0]:.2f} · strong" in text
    first_filler = next(i for i, h in enumerate(hits) if h["label"] != "strong")
    marker = text.index("below the answering threshold")
    assert text.index(f"{first_filler}. ") < marker < text.index(f"{first_filler + 1}. {hits[first_filler]['title']}")


def test_discord_shows_the_same_figure_and_word(hash_config, bundled_index):
    from bot.render import render_answer
    from retrieval.config import replace
    from tests.helpers import service_for

    service = service_for(replace(hash_config, search={"min_score": 0.3}), bundled_index)
    answer = service.ask("coalition of civil and human rights groups", k=8)
    footers = [e.footer.text for e in render_answer(answer).embeds]
    first = answer.hits[0]
    assert f"strong ({first.strength:.2f})" in footers[0] and "below" not in footers[0]
    filler = next(h for h in answer.hits if h.label != "strong")
    assert any(
        f"#{filler.rank} " in f and f"{filler.label} ({filler.strength:.2f}), below the answering threshold" in f
        for f in footers
    )


# ---------------------------------------------------------------- 14. the eval table


def test_eval_shows_found_but_abstained_apart_from_ranking_misses(cli_env, tmp_path):
    # the named-terms rule (search.named_min_score) off too, so min_score alone decides
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML + "search:\n  min_score: 0.99\n  named_min_score: 0.99\n")
    questions = tmp_path / "q.yaml"
    questions.write_text(
        "questions:\n"
        "  - q: inaccurate in 98 percent of cases Metropolitan Police\n    expect: ['98 percent']\n"
        "  - q: chowder contest harbour winner\n    expect: ['chowder']\n"
    )
    run("index", str(BUNDLED))
    result = run("eval", str(questions))
    assert result.exit_code == 0, result.output
    text = result.stdout
    found = text.index("Found but abstained")
    missed = text.index("Questions not found at rank 1")
    assert found < text.index("inaccurate in 98 percent") < missed < text.index("chowder contest")
    assert "not answered at rank 1" not in text
    summary = json.loads(run("eval", str(questions), "--json").stdout)["summary"]
    assert summary["found_but_abstained"] == 1


def test_a_first_question_waits_for_another_first_build_instead_of_failing(new_user):
    # A bot and a terminal started together on a new machine: the second waits for the
    # first one's build and answers from it (it said "busy, try again").
    import threading
    import time

    from retrieval.config import load_config
    from retrieval.store.folder.lock import writer_lock
    from retrieval.wiring import open_service, resolve_index_dir

    config = load_config()
    folder, _ = resolve_index_dir(config, None)
    held = threading.Event()

    def other_first_build():
        with writer_lock(folder):
            held.set()
            time.sleep(1.0)

    thread = threading.Thread(target=other_first_build)
    thread.start()
    held.wait(5)
    said: list[str] = []
    service = open_service(config, say=said.append)
    thread.join()
    assert any("waiting for it to finish" in line for line in said), said
    assert service.ask("facial recognition", k=3).hits
