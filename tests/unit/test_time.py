"""Time: as-of answers, the inclusive --until, dates read from questions and filters, the
recency prior, newer coverage, JSON lines in `ask -`, and timelines (library, CLI, cog)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from retrieval.config import replace
from retrieval.errors import QuestionError
from retrieval.query.ranking import Candidate, Filters
from retrieval.query.recency import recency_prior
from retrieval.query.when import parse_when, read_question, since_bound, until_bound
from tests.helpers import HASH_CONFIG_YAML, build, service_for

NOW = datetime(2022, 1, 7, tzinfo=UTC)
PARTY = "leader of the Acme party"
ARTICLES = [
    ("alice", "2020-01-10", "Daily Bugle", f"Alice Smith was elected {PARTY} in Springfield on a snowy Friday."),
    ("bob", "2021-06-01", "Planet", f"Members chose Bob Jones, who was elected {PARTY} by a narrow margin."),
    ("carol", "2022-01-07", "Gazette", f"In a surprise, Carol King was elected {PARTY} this morning at dawn."),
    ("dan", "2022-01-08", "Sentinel", f"Dan Brown was elected {PARTY} a day later, to general astonishment."),
    ("rain", "2021-03-03", "Weather Desk", "Heavy rain is forecast for Paris and the north of France this weekend."),
]


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def dated_folder(tmp_path):
    folder = tmp_path / "dated"
    folder.mkdir()
    lines = [
        json.dumps(
            {
                "title": f"{name.title()} story",
                "text": text,
                "url": f"https://news.example/{name}",
                "published": f"{published}T09:00:00+00:00",
                "outlet": outlet,
            }
        )
        for name, published, outlet, text in ARTICLES
    ]
    (folder / "articles.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def dated_service(tmp_path, hash_config, dated_folder):
    config = replace(hash_config, search={"min_score": 0.3, "same_story": 1.01})
    build(config, tmp_path / "dated-index", [dated_folder])
    return service_for(config, tmp_path / "dated-index")


# ---------------------------------------------------------------------- parsing


def test_filter_dates_take_iso_short_and_relative_forms():
    assert parse_when("2024-05-01", NOW) == (day("2024-05-01"), True)
    assert parse_when("2024-05-01T10:30:00", NOW) == (datetime(2024, 5, 1, 10, 30, tzinfo=UTC), False)
    assert since_bound("7d", NOW) == day("2021-12-31")
    assert since_bound("2w", NOW) == day("2021-12-24")
    assert since_bound("last week", NOW) == day("2021-12-31")
    assert since_bound("yesterday", NOW) == day("2022-01-06")
    assert since_bound("3 days ago", NOW) == day("2022-01-04")


def test_until_means_the_whole_day():
    assert until_bound("2022-01-07", NOW) == day("2022-01-08")  # exclusive: all of the 7th
    assert until_bound("yesterday", NOW) == day("2022-01-07")
    assert until_bound("2022-01-07T12:00:00", NOW) == datetime(2022, 1, 7, 12, tzinfo=UTC)  # an instant stays


@pytest.mark.parametrize("text", ["", "banana", "next to nothing"])
def test_a_bad_date_is_a_question_error(text):
    with pytest.raises(QuestionError):
        since_bound(text, NOW)


@pytest.mark.parametrize(
    ("question", "since", "until", "recent"),
    [
        ("who won the election in 2018?", "2018-01-01", "2019-01-01", False),
        ("who won in May 2019", "2019-05-01", "2019-06-01", False),
        ("what did the fed say last week", "2021-12-31", None, False),
        ("which app was banned this week?", "2022-01-01", None, False),
        ("what did they say this year?", "2022-01-01", None, False),
        ("what happened yesterday in Kabul", "2022-01-06", None, False),
        ("Who is currently the CEO of Twitter?", None, None, True),
        ("latest on the vote", None, None, True),
        ("who may lead the party", None, None, False),  # "may" is a verb, not a month
        ("who urged Amazon to stop selling Rekognition?", None, None, False),
    ],
)
def test_time_in_the_question(question, since, until, recent):
    reading = read_question(question, NOW)
    assert reading.since == (day(since) if since else None)
    assert reading.until == (day(until) if until else None)
    assert reading.recent is recent


def test_the_recency_prior_is_a_stage_after_fusion():
    old, new, undated = Candidate(1, 0.80, 0.8, 0.0), Candidate(2, 0.78, 0.7, 0.0), Candidate(3, 0.70, 0.7, 0.0)
    published = {1: day("2021-01-01"), 2: day("2022-01-06"), 3: None}.get
    assert [c.row for c in recency_prior([old, new, undated], published, NOW, 0.0, 30)] == [1, 2, 3]
    ranked = recency_prior([old, new, undated], published, NOW, 0.5, 30)
    assert [c.row for c in ranked] == [2, 1, 3]  # last week's answer beats last year's
    assert ranked[2].score == undated.score  # an undated article gains nothing
    # A much stronger match to an old story keeps its place under a mild prior.
    strong = Candidate(1, 1.0, 0.9, 0.0)
    assert recency_prior([strong, new], published, NOW, 0.1, 30)[0].row == 1


# ---------------------------------------------------------------------- the service


def test_as_of_shows_nothing_published_after_that_day(dated_service):
    answer = dated_service.ask(f"who was elected {PARTY}?", k=5, as_of=NOW)
    names = [h.document.url.rsplit("/", 1)[1] for h in answer.hits]
    assert "dan" not in names  # published the day after
    assert "carol" in names  # the as-of day itself is included
    assert all(h.document.published < day("2022-01-08") for h in answer.hits)
    assert answer.as_of == NOW and answer.until == day("2022-01-08")
    assert "as of 2022-01-07" in answer.understood
    earlier = dated_service.ask(f"who was elected {PARTY}?", k=5, as_of=day("2021-01-01"))
    assert [h.document.url.rsplit("/", 1)[1] for h in earlier.hits if "party" in h.text] == ["alice"]


def test_the_prior_is_relative_to_the_as_of_day(dated_service):
    question = f"who was elected {PARTY}?"
    then = dated_service.ask(question, k=3, as_of=day("2021-06-02"), recency=2.0)
    assert then.hits[0].document.url.endswith("/bob")
    now = dated_service.ask(question, k=3, as_of=NOW, recency=2.0)
    assert now.hits[0].document.url.endswith("/carol")


def test_newer_coverage_names_a_later_article_that_also_answers(dated_service):
    answer = dated_service.ask(f"who was elected {PARTY}?", k=5, as_of=NOW, recency=0.0)
    by_name = {h.document.url.rsplit("/", 1)[1]: h for h in answer.hits}
    assert by_name["alice"].newer is not None
    assert by_name["alice"].newer.published > by_name["alice"].document.published
    assert by_name["alice"].newer.url == "https://news.example/carol"  # the newest that answers, as of then
    assert by_name["carol"].newer is None  # nothing newer as of that day (dan is after it)


def test_a_range_read_from_the_question_is_shown_and_gives_way_when_empty(dated_service):
    answer = dated_service.ask(f"who was elected {PARTY} in 2021?", k=3, as_of=NOW)
    assert answer.since == day("2021-01-01") and answer.until == day("2022-01-01")
    assert answer.understood.startswith("2021-01-01 to 2021-12-31 (from “in 2021”)")
    assert all(h.document.published.year == 2021 for h in answer.hits)
    empty = dated_service.ask(f"who was elected {PARTY} in 1999?", k=3, as_of=NOW)
    assert empty.hits and empty.understood.startswith("nothing 1999-01-01 to 1999-12-31 answers: all dates")


def test_json_says_whether_the_question_s_dates_were_searched_or_gave_way(dated_service):
    # A client must not parse `understood` to learn that "in 1999" was not what was searched.
    from retrieval.jsonout import answer_json

    kept = answer_json(dated_service.ask(f"who was elected {PARTY} in 2021?", k=3, as_of=NOW))
    assert kept["question_dates"] == {
        "since": "2021-01-01T00:00:00+00:00",
        "until": "2022-01-01T00:00:00+00:00",
        "searched": True,
    }
    gave_way = answer_json(dated_service.ask(f"who was elected {PARTY} in 1999?", k=3, as_of=NOW))
    assert (
        gave_way["question_dates"]["since"].startswith("1999-01-01") and gave_way["question_dates"]["searched"] is False
    )
    assert gave_way["since"] is None  # what was searched: every date
    assert answer_json(dated_service.ask(f"who was elected {PARTY}?", k=3, as_of=NOW))["question_dates"] is None
    # Flags that set just the question's dates: still its dates, searched.
    flagged = dated_service.ask(
        f"who was elected {PARTY} in 2021?",
        k=3,
        as_of=NOW,
        filters=Filters(since=day("2021-01-01"), until=day("2022-01-01")),
    )
    assert answer_json(flagged)["question_dates"]["searched"] is True


def test_explicit_filters_win_over_the_question(dated_service):
    answer = dated_service.ask(f"who was elected {PARTY} in 2021?", k=3, filters=Filters(since=day("2020-01-01")))
    assert answer.since == day("2020-01-01")


def test_timeline_is_one_answering_passage_per_story_in_date_order(dated_service):
    timeline = dated_service.timeline(f"who was elected {PARTY}?", as_of=NOW)
    dates = [h.document.published for h in timeline.hits]
    assert dates == sorted(dates) and [h.rank for h in timeline.hits] == list(range(1, len(dates) + 1))
    assert len({h.document.id for h in timeline.hits}) == len(dates)
    assert all(max(h.similarity, h.sentence_similarity) >= 0.3 for h in timeline.hits)
    assert all(d < day("2022-01-08") for d in dates)


def test_timeline_folds_wire_copies(tmp_path, hash_config, dated_folder):
    copy = json.loads((dated_folder / "articles.jsonl").read_text().splitlines()[1])
    copy.update(
        url="https://wire.example/bob", outlet="Wire", title="Jones wins", text="LONDON (Wire) — " + copy["text"]
    )
    with (dated_folder / "articles.jsonl").open("a") as f:
        f.write(json.dumps(copy) + "\n")
    config = replace(hash_config, search={"min_score": 0.3})
    build(config, tmp_path / "wire-index", [dated_folder])
    timeline = service_for(config, tmp_path / "wire-index").timeline(f"who was elected {PARTY}?")
    urls = [h.document.url for h in timeline.hits]
    assert sum(u.endswith("/bob") for u in urls) == 1
    (bob,) = [h for h in timeline.hits if h.document.url.endswith("/bob")]
    assert [d.outlet for d in bob.duplicates] in (["Wire"], ["Planet"])


# ---------------------------------------------------------------------- the CLI


@pytest.fixture
def env(cli_env, dated_folder):
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML + "search:\n  min_score: 0.3\n  same_story: 1.01\n")
    assert run("index", str(dated_folder)).exit_code == 0
    return cli_env


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def urls(record):
    return [h["url"].rsplit("/", 1)[1] for h in record["hits"]]


def test_cli_until_includes_the_day_it_names(env):
    result = run("ask", "--json", "-k", "5", "--until", "2022-01-07", f"who was elected {PARTY}?")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "carol" in urls(data) and "dan" not in urls(data)
    assert data["until"] == "2022-01-08T00:00:00+00:00"


def test_cli_as_of_and_relative_since(env):
    result = run("ask", "--json", "-k", "5", "--as-of", "2022-01-07", "--since", "2w", f"who was elected {PARTY}?")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert urls(data) == ["carol"]  # since 2021-12-24, nothing after 2022-01-07
    assert data["as_of"] == "2022-01-07" and data["since"] == "2021-12-24T00:00:00+00:00"
    bad = run("ask", "--since", "someday soon", "x")
    assert bad.exit_code == 1 and "is not a date" in bad.output


def test_json_lines_answer_each_with_its_own_options(env):
    lines = [
        f"who was elected {PARTY}?",
        json.dumps({"question": f"who was elected {PARTY}?", "as_of": "2021-01-01", "k": 2}),
        '{"question": "who was elected", "k": ',
        json.dumps({"question": f"who was elected {PARTY}?", "until": "2021-06-01"}),
        json.dumps({"question": "x", "colour": "red"}),
        json.dumps({"question": 3}),
        json.dumps({"question": "x", "k": 0}),
        json.dumps({"question": "x", "k": 101}),
    ]
    result = run("ask", "--json", "-", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 8
    # k as -k takes it: 0 is not "the default", it is refused, on that line only.
    assert all("'k' must be a whole number from 1 to 100" in r["error"] for r in records[6:])
    assert "dan" in urls(records[0])  # a plain line: as of now
    assert records[1]["as_of"] == "2021-01-01" and len(records[1]["hits"]) <= 2
    assert "bob" not in urls(records[1]) and "carol" not in urls(records[1])
    assert records[2]["hits"] == [] and "not valid JSON" in records[2]["error"]
    assert "bob" in urls(records[3]) and "carol" not in urls(records[3])  # until: the whole day
    assert "Unknown key" in records[4]["error"] and "text" in records[5]["error"]
    assert sum("error" in r for r in records) == 5


def test_newer_coverage_in_json_and_terminal(env):
    data = json.loads(run("ask", "--json", "-k", "5", "--as-of", "2021-12-31", f"who was elected {PARTY}?").stdout)
    alice = next(h for h in data["hits"] if h["url"].endswith("/alice"))
    assert alice["newer"]["url"] == "https://news.example/bob" and alice["newer"]["published"].startswith("2021-06-01")
    text = run("ask", "-k", "5", "--as-of", "2021-12-31", f"who was elected {PARTY}?").output
    assert "newer coverage: Planet, 2021-06-01" in text and "https://news.example/bob" in text
    # The newer article is shown in the same answer: the reader is pointed at its result.
    ranks = {h["url"].rsplit("/", 1)[1]: h["rank"] for h in data["hits"]}
    assert alice["newer"]["rank"] == ranks["bob"]
    assert f"newer coverage: Planet, 2021-06-01 (result {ranks['bob']})" in text
    # Asked for one result, the newer article is not shown: its link is.
    args = ("-k", "1", "--as-of", "2021-12-31", f"who was Alice Smith, elected {PARTY}?")
    (first,) = json.loads(run("ask", "--json", *args).stdout)["hits"]
    assert first["url"].endswith("/alice") and first["newer"]["rank"] is None
    text = run("ask", *args).output
    assert "newer coverage: Planet, 2021-06-01\n" in text and "https://news.example/bob" in text
    assert "Searching:" in text and "as of 2021-12-31" in text


def test_timeline_through_the_cli(env):
    result = run("timeline", "--json", "--until", "2022-01-07", f"who was elected {PARTY}?")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert urls(data) == ["alice", "bob", "carol"]
    text = run("timeline", f"who was elected {PARTY}?").output
    assert text.index("2020-01-10") < text.index("2021-06-01") < text.index("2022-01-07") < text.index("2022-01-08")
    assert "Weather" not in text


# ---------------------------------------------------------------------- the bot


def test_timeline_through_the_real_cog(tmp_path, hash_config, dated_folder):
    from bot.cogs.ask import AskCog
    from bot.context import BotContext
    from bot.render import DESCRIPTION_LIMIT, MESSAGE_LIMIT
    from retrieval.config import BotSettings
    from retrieval.desk.feedback import FeedbackLog
    from tests.fakes import FakeInteraction, invoke

    config = replace(hash_config, search={"min_score": 0.3, "same_story": 1.01})
    build(config, tmp_path / "bot-index", [dated_folder])
    context = BotContext(
        service_for(config, tmp_path / "bot-index"),
        BotSettings(cooldown_seconds=0),
        FeedbackLog(tmp_path / "fb.sqlite"),
    )
    client = SimpleNamespace(context=context, user=None)
    cog = AskCog(client, context)
    interaction = FakeInteraction(client)
    asyncio.run(invoke(cog.timeline, cog, interaction, question=f"who was elected {PARTY}?", since="2021-01-01"))
    assert interaction.log[0][0] == "defer"
    ((_, sent),) = interaction.sent()
    assert sent["content"].startswith("**Timeline:**") and len(sent["content"]) <= MESSAGE_LIMIT
    (embed,) = sent["embeds"]
    assert len(embed.description) <= DESCRIPTION_LIMIT
    desc = embed.description
    assert desc.index("2021-06-01") < desc.index("2022-01-07") < desc.index("2022-01-08")
    assert "2020-01-10" not in desc  # since 2021-01-01
    assert "view" not in sent  # one page: no "More stories"
    bad = FakeInteraction(client)
    asyncio.run(invoke(cog.timeline, cog, bad, question="x", since="whenever"))
    ((_, refused),) = bad.sent()
    assert "must be a date" in refused["content"]


def test_timeline_pages_and_newer_coverage_render_within_limits(dated_service):
    import dataclasses

    from bot.render import DESCRIPTION_LIMIT, TOTAL_EMBED_LIMIT, render_answer, render_timeline

    timeline = dated_service.timeline(f"who was elected {PARTY}?")
    long = dataclasses.replace(timeline, hits=timeline.hits * 10)
    first = render_timeline(long)
    assert len(first.embeds[0].description) <= DESCRIPTION_LIMIT and first.total_embed_chars() <= TOTAL_EMBED_LIMIT
    assert "1–8 of" in first.embeds[0].footer.text
    assert "No more stories" in render_timeline(long, offset=len(long.hits)).content
    answer = dated_service.ask(f"who was elected {PARTY}?", k=5, as_of=day("2021-12-31"), recency=0.0)
    reply = render_answer(answer)
    assert "*Searching: as of 2021-12-31*" in reply.content
    fields = [f for e in reply.embeds for f in e.fields if f.name == "Newer coverage"]
    assert fields and "[Planet, 2021-06-01](https://news.example/bob)" in fields[0].value
    bob = next(h.rank for h in answer.hits if h.document.url.endswith("/bob"))
    assert fields[0].value.endswith(f"(#{bob})")  # shown in the same answer: which result


def test_alerts_are_as_of_now_an_article_dated_in_the_future_waits(tmp_path, hash_config):
    # The desk's default as-of is now, for alerts too: a feed item dated next year (a bad
    # clock, a scheduled embargo) is not posted as news before its day.
    from retrieval.desk.follows import Follow, matching_alerts

    folder = tmp_path / "feed"
    folder.mkdir()
    rows = [("today", "2026-01-05", "Gazette"), ("embargoed", "2999-01-01", "Sentinel")]
    (folder / "items.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "title": f"{name} story",
                    "text": f"Carol King was elected {PARTY} this morning, the {name} report says.",
                    "url": f"https://news.example/{name}",
                    "published": f"{published}T09:00:00+00:00",
                    "outlet": outlet,
                }
            )
            + "\n"
            for name, published, outlet in rows
        )
    )
    config = replace(hash_config, search={"min_score": 0.1, "same_story": 1.01})
    build(config, tmp_path / "feed-index", [folder])
    service = service_for(config, tmp_path / "feed-index")
    follow = Follow(1, None, 10, 20, f"who was elected {PARTY}?", 0.0)
    every = [doc.id for doc in service.documents()]
    assert len(every) == 2
    alerts = matching_alerts(service, [follow], every)
    assert [a.hit.document.url.rsplit("/", 1)[1] for a in alerts] == ["today"]


def _alerted(tmp_path, config, question, items):
    """The new articles (by name) an alert on ``question`` brings, from a feed of ``items``
    ({name: text}) all new."""
    from retrieval.desk.follows import Follow, matching_alerts

    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "items.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "title": f"{name} story",
                    "text": text,
                    "url": f"https://news.example/{name}",
                    "published": "2026-01-05T09:00:00+00:00",
                    "outlet": "Gazette",
                }
            )
            + "\n"
            for name, text in items.items()
        )
    )
    build(config, tmp_path / "feed-index", [folder])
    service = service_for(config, tmp_path / "feed-index")
    every = [doc.id for doc in service.documents()]
    assert len(every) == len(items)
    alerts = matching_alerts(service, [Follow(1, None, 10, 20, question, 0.0)], every)
    return sorted(a.hit.document.url.rsplit("/", 1)[1] for a in alerts)


def test_an_alert_brings_what_ask_would_answer_not_a_near_miss(tmp_path, hash_config):
    # A close article that lacks what the question asks for (Texas) is no answer: /ask
    # abstains on it, and an alert used to fire on the cosine alone.
    config = replace(hash_config, search={"min_score": 0.1, "answer_terms": 1.0, "same_story": 1.01})
    items = {
        "boston": "Boston banned police use of facial recognition software in a unanimous council vote.",
        "weather": "Rain is expected over the weekend, the weather service said on Monday.",
    }
    assert _alerted(tmp_path, config, "Which Texas city banned police use of facial recognition?", items) == []


def test_an_alert_on_a_name_fires_when_the_name_is_shown_whatever_the_cosine(tmp_path, hash_config):
    # Following a person: the new article that names them is what /ask answers with (its
    # names all shown), even far below min_score; the article that does not name them is not.
    config = replace(hash_config, search={"min_score": 0.99, "same_story": 1.01})
    items = {
        "quist": "The council appointed Carol Quist, a former judge, to lead the inquiry into the port.",
        "port": "The inquiry into the port will report to the council before the summer recess.",
    }
    assert _alerted(tmp_path, config, "Who is Carol Quist?", items) == ["quist"]


def test_a_year_read_as_the_dates_searched_is_not_a_word_the_passages_must_hold(tmp_path, hash_config):
    # "in 2018" filters to 2018; the articles of 2018 rarely say "2018". With answer_terms
    # (every specific term shown), the year counted as one and the question abstained,
    # while the same range given as --since/--until was answered.
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "items.jsonl").write_text(
        json.dumps(
            {
                "title": "Council funds bike lanes",
                "text": "The city council voted to fund new bike lanes on Main Street.",
                "url": "https://news.example/lanes",
                "published": "2018-05-02T09:00:00+00:00",
                "outlet": "Gazette",
            }
        )
        + "\n"
    )
    config = replace(hash_config, search={"min_score": 0.1, "answer_terms": 1.0})
    build(config, tmp_path / "index", [folder])
    service = service_for(config, tmp_path / "index")
    as_of = datetime(2024, 1, 1, tzinfo=UTC)
    dated = service.ask("what did the council fund in 2018?", as_of=as_of)
    assert dated.understood and "2018-01-01 to 2018-12-31" in dated.understood
    assert dated.answered and dated.evidence in (None, 1.0)
    # Asked of every date (nothing in the range answers), the year is an ask again.
    elsewhere = service.ask("what did the council fund in 2016?", as_of=as_of)
    assert "all dates" in (elsewhere.understood or "") and not elsewhere.answered


def test_when_the_question_s_dates_and_the_flags_disagree_the_line_says_what_was_searched(dated_service):
    # "after 2020" with --until 2020: the flags win, and results stay within them; the line
    # said "nothing 2021-01-01 to 2020-12-31 answers: all dates", which was not so.
    from retrieval.query.when import until_bound

    service = dated_service
    answer = service.ask(f"who was elected {PARTY} after 2020?", filters=Filters(until=until_bound("2020")))
    assert answer.understood == "the question's dates are outside the dates set: searched until 2020-12-31"
    assert all(h.document.published.year <= 2020 for h in answer.hits)
    # With no flag, nothing in a range that answers still reads "all dates".
    empty = service.ask(f"who was elected {PARTY} in 2015?")
    assert empty.understood.startswith("nothing 2015-01-01 to 2015-12-31 answers: all dates")


def test_a_fallback_whose_answer_is_within_the_question_s_dates_does_not_say_nothing_there_answers(
    dated_service, monkeypatch
):
    # Searched within September 2024 with "September 2024" left out of the words, nothing
    # answered; searched across all dates with them as words, the answer was from
    # 2024-09-15. "nothing 2024-09-01 to 2024-09-30 answers" above it contradicted it.
    from retrieval.query import service as svc
    from retrieval.types import Answer, Chunk, Document, Hit

    doc = Document(id="d", title="t", text="x", published=day("2024-09-15"), source="f.txt")
    hit = Hit(Chunk("d", 0, "x", 0, 1), doc, 1.0, 1, 0.5)
    calls = []

    def fake(self, text, k, chosen, *args, **kwargs):
        calls.append(chosen)
        return Answer(text, (hit,), answered=len(calls) > 1)

    monkeypatch.setattr(svc.QueryService, "_ask", fake)
    answer = dated_service.ask("What happened in September 2024?", as_of=day("2026-12-07"))
    assert len(calls) == 2 and answer.answered
    assert answer.understood.startswith("2024-09-01 to 2024-09-30, found searching all dates with “")
    assert "nothing" not in answer.understood
