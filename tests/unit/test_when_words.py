"""Which side of a date a question asks about ("before 2022", "after 2020", "between 2019
and 2021"), whole months and years in --since/--until/--as-of (and in `ask -` JSON lines),
and the dates no search can use (signed, out of range): a clear error, never a traceback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from retrieval.errors import QuestionError
from retrieval.query.when import as_of_bound, parse_when, read_question, since_bound, until_bound
from tests.helpers import HASH_CONFIG_YAML

NOW = datetime(2022, 1, 7, tzinfo=UTC)
LATER = datetime(2026, 12, 6, tzinfo=UTC)
PARTY = "leader of the Acme party"
ARTICLES = [
    ("alice", "2020-01-10", f"Alice Smith was elected {PARTY} in Springfield on a snowy Friday."),
    ("feb", "2021-02-15", f"Fay Brown was elected {PARTY} in February after a long count."),
    ("bob", "2021-06-01", f"Members chose Bob Jones, who was elected {PARTY} by a narrow margin."),
    ("carol", "2022-01-07", f"In a surprise, Carol King was elected {PARTY} this morning at dawn."),
]


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def reading(question: str, as_of: datetime = LATER):
    found = read_question(question, as_of)
    since = found.since.date().isoformat() if found.since else None
    until = found.until.date().isoformat() if found.until else None
    return since, until, found.phrases


# ---------------------------------------------------------------------- the side of a date


@pytest.mark.parametrize(
    ("question", "since", "until", "phrase"),
    [
        # until bounds are exclusive: "before 2022" is up to and including 2021-12-31
        ("what did lawmakers say about facial recognition before 2022?", None, "2022-01-01", "before 2022"),
        # "until 2021" keeps all of 2021, as --until 2021 does
        ("what was said until 2021", None, "2022-01-01", "until 2021"),
        ("what was said till 2021", None, "2022-01-01", "till 2021"),
        ("what was said til 2021?", None, "2022-01-01", "til 2021"),
        ("what was said prior to May 2019?", None, "2019-05-01", "prior to May 2019"),
        ("what happened before March 3, 2020?", None, "2020-03-03", "before March 3, 2020"),
        ("what happened after 2020", "2021-01-01", None, "after 2020"),
        ("what happened after May 2019?", "2019-06-01", None, "after May 2019"),
        ("what happened after March 3, 2020?", "2020-03-04", None, "after March 3, 2020"),
        ("who won since 2021?", "2021-01-01", None, "since 2021"),
        ("Since 2019, who led?", "2019-01-01", None, "Since 2019"),
        ("who led from March 2020 onwards", "2020-03-01", None, "from March 2020 onwards"),
        ("who led from 2020 on, and why", "2020-01-01", None, "from 2020 on"),
        ("who led between 2020 and 2022?", "2020-01-01", "2023-01-01", "between 2020 and 2022"),
        ("who led from 2019 to 2021", "2019-01-01", "2022-01-01", "from 2019 to 2021"),
        ("who led from 2019 through 2021", "2019-01-01", "2022-01-01", "from 2019 through 2021"),
        ("who led between 2020 and 2020", "2020-01-01", "2021-01-01", "between 2020 and 2020"),
        (
            "who led between March 3, 2020 and June 2021?",
            "2020-03-03",
            "2021-07-01",
            "between March 3, 2020 and June 2021",
        ),
        (
            "who led between Jan. 5, 2020 and Feb. 2020",
            "2020-01-05",
            "2020-03-01",
            "between Jan. 5, 2020 and Feb. 2020",
        ),
        ("between 2020-01-05 and 2020-02-01 who led", "2020-01-05", "2020-02-02", "between 2020-01-05 and 2020-02-01"),
        ("who led after 2020 and before 2022?", "2021-01-01", "2022-01-01", "after 2020 and before 2022"),
        ("who led before 2022 and after 2020?", "2021-01-01", "2022-01-01", "before 2022 and after 2020"),
        ("who led between 2020 and now", "2020-01-01", None, "between 2020 and now"),
        ("who led from 2020 to the present", "2020-01-01", None, "from 2020 to the present"),
    ],
)
def test_the_word_before_a_date_says_which_side_is_searched(question, since, until, phrase):
    got_since, got_until, phrases = reading(question)
    assert (got_since, got_until) == (since, until)
    assert phrase in phrases


def test_the_understood_text_says_the_side_honestly():
    assert read_question("who spoke before 2022?", LATER).describe() == "until 2021-12-31"
    assert read_question("who spoke after 2020?", LATER).describe() == "since 2021-01-01"
    assert read_question("who spoke since 2021?", LATER).describe() == "since 2021-01-01"
    assert read_question("who spoke between 2020 and 2022?", LATER).describe() == "2020-01-01 to 2022-12-31"
    # "in 2022" is still the year
    assert read_question("who spoke in 2022?", LATER).describe() == "2022-01-01 to 2022-12-31"


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        # "between" is symmetric: the same span either way round.
        ("who led between 2022 and 2020?", "2020-01-01", "2023-01-01"),  # until: exclusive
        ("who led between June 2021 and March 2021", "2021-03-01", "2021-07-01"),
        # Not a range of dates ("from 2020 to 2016 levels"), or two sides that meet nowhere:
        # a question is never refused for it (a flag is), and no range is read from it.
        ("who led from 2021 to 2019", None, None),
        ("who led after 2021 and before 2020?", None, None),
        ("Did turnout drop from 2021 to 2016 levels?", None, None),
    ],
)
def test_a_reversed_range_in_a_question_is_read_kindly_never_refused(question, since, until):
    got = reading(question, LATER)
    assert got[:2] == (since, until), got


def test_relative_dates_keep_their_meaning_with_a_side():
    assert reading("what was said since last week", NOW)[:2] == ("2021-12-31", None)
    assert reading("what was said since yesterday", NOW)[:2] == ("2022-01-06", None)
    assert reading("what was said before yesterday", NOW)[:2] == (None, "2022-01-06")
    assert reading("what was said since this year", NOW)[:2] == ("2022-01-01", None)
    assert reading("what happened last week", NOW)[:2] == ("2021-12-31", None)  # unchanged


@pytest.mark.parametrize(
    "question",
    [
        "what happened the day before the vote?",
        "what was said before the vote",
        "what happened after the meeting",
        "since when has he led?",
        "what did he say after",
        "before",
        "between 2020",
        "between and 2020",
        "after after after before since until",
        "what happened after the 2020 election",  # an event, not the year: no range rather than a wrong one
        "who led between 2020 and the vote",
        "who led before the 2019 election in Springfield",
        "before " * 200 + "2020",
        "between 2020 and " * 50,
    ],
)
def test_side_words_without_a_date_read_no_range(question):
    found = read_question(question, LATER)
    assert found.since is None and found.until is None


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("the aftermath of 2020 floods", "2020-01-01", "2021-01-01"),  # "aftermath" is not "after"
        ("a sincere apology in 2020", "2020-01-01", "2021-01-01"),  # "sincere" is not "since"
        ("the untill 2020 typo", "2020-01-01", "2021-01-01"),
        ("reports from 2020 about the vote", "2020-01-01", "2021-01-01"),  # "from 2020" alone is 2020
        ("who moved from 2020 to Brussels", "2020-01-01", "2021-01-01"),
        ("in 2018, what came before 2020?", "2018-01-01", "2019-01-01"),  # the first date phrase decides
        ("who won by 5 votes in 2020", "2020-01-01", "2021-01-01"),  # "by" counts only right before a date
        ("who won by a landslide in 2020", "2020-01-01", "2021-01-01"),
        ("who led through the 2020 pandemic", "2020-01-01", "2021-01-01"),
        ("how 2019 and 2000 people died", "2019-01-01", "2020-01-01"),  # "2000 people" is a count
    ],
)
def test_words_that_only_look_like_side_words_change_nothing(question, since, until):
    assert reading(question)[:2] == (since, until)


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        # up to a date, all of it too: as --until reads it
        ("what was said until 2019-12-31", None, "2020-01-01"),
        ("what happened on or before June 15, 2019?", None, "2019-06-16"),
        ("what happened until 2019", None, "2020-01-01"),
        ("who led through 2019", None, "2020-01-01"),
        ("who led thru 2019", None, "2020-01-01"),
        ("who led up to 2019", None, "2020-01-01"),
        ("who led up until May 2019", None, "2019-06-01"),
        ("who led by 2019", None, "2020-01-01"),
        ("who led no later than 2019", None, "2020-01-01"),
        ("who led until the end of 2020", None, "2021-01-01"),
        ("who spoke before the end of 2020", None, "2021-01-01"),
        ("by the end of June 2021, who led?", None, "2021-07-01"),
        # nothing from that date on
        ("who led before 2019", None, "2019-01-01"),
        ("who led prior to 2019", None, "2019-01-01"),
        ("who led earlier than 2019", None, "2019-01-01"),
        ("who led before the start of 2020", None, "2020-01-01"),
        # from the end of a date
        ("who led after 2019", "2020-01-01", None),
        ("who led later than 2021", "2022-01-01", None),
        ("who led after the end of 2020", "2021-01-01", None),
        # from its start
        ("who led since 2019", "2019-01-01", None),
        ("who led on or after May 2019", "2019-05-01", None),
        ("who led no earlier than 2019", "2019-01-01", None),
        ("who led from 2019 on", "2019-01-01", None),
        ("who led since the start of 2020", "2020-01-01", None),
        # two side words of one range
        ("who led from 2019 up to 2021", "2019-01-01", "2022-01-01"),
        ("who led after 2020 until 2022", "2021-01-01", "2023-01-01"),
        ("who led since 2019 through 2021", "2019-01-01", "2022-01-01"),
    ],
)
def test_inclusive_and_exclusive_side_words(question, since, until):
    assert reading(question)[:2] == (since, until)


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("what happened not before 2021", "2021-01-01", None),
        ("what happened not after 2018", None, "2019-01-01"),
        ("who led not later than 2019", None, "2020-01-01"),
        ("who led not earlier than 2019", "2019-01-01", None),
    ],
)
def test_a_denied_side_is_the_other_side(question, since, until):
    assert reading(question)[:2] == (since, until)


@pytest.mark.parametrize(
    "question",
    [
        # a side denied: no range rather than the wrong one (nor that year alone)
        "what had never before 2020 been seen",
        "it wasn't until 2020 that he won",
        "it was not until 2020 that he won",
        "what happened not since 2020",
        "reports not from 2020",
        "what happened not between 2019 and 2021",
        # both sides of a date, or two sides that are no one range
        "what happened before and after 2020",
        "what happened before/after 2020?",
        "what happened before, during and after 2020",
        "what happened before or after the 2020 vote",
        "what happened before 2020 and after 2022",
        "what happened before 2020 or after 2022",
        "what happened either after 2020 or before 2022",
    ],
)
def test_denied_or_both_sides_read_no_range(question):
    found = read_question(question, LATER)  # never a QuestionError
    assert (found.since, found.until, found.phrases) == (None, None, ())


def test_two_years_joined_are_all_of_both():
    assert reading("what happened in 2019 and 2021?")[:2] == ("2019-01-01", "2022-01-01")
    assert reading("who won in 2019 or 2021")[:2] == ("2019-01-01", "2022-01-01")
    assert reading("in 2021 or 2019, who won?")[:2] == ("2019-01-01", "2022-01-01")


def test_a_side_beyond_the_as_of_day():
    assert reading("what was said before 2030", NOW)[:2] == (None, None)  # the as-of day bounds it anyway
    assert reading("what was said after 2030", NOW)[:2] == ("2031-01-01", None)  # empty: the answer gives way
    assert reading("who led between 2020 and 2022", NOW)[:2] == ("2020-01-01", None)  # until is the as-of day


@pytest.mark.parametrize("as_of", [datetime(1, 1, 2, tzinfo=UTC), datetime(9998, 12, 31, tzinfo=UTC)])
@pytest.mark.parametrize(
    "question", ["this week", "this year", "last week", "after yesterday", "between 2020 and now", "3 years ago"]
)
def test_questions_at_the_ends_of_the_calendar_do_not_crash(as_of, question):
    try:
        read_question(f"what happened {question}?", as_of)
    except QuestionError as error:  # as of year 1, "between 2020 and now" is reversed
        assert "start must be earlier" in str(error)


# ---------------------------------------------------------------------- whole periods in filters


def test_a_year_or_a_month_in_a_filter_covers_all_of_it():
    assert since_bound("2022", LATER) == day("2022-01-01")  # not 2022-12-06
    assert until_bound("2020", LATER) == day("2021-01-01")  # through 2020-12-31
    assert as_of_bound("2020-06", LATER) == day("2020-06-30")  # not 2020-06-06
    assert since_bound("2020-06", LATER) == day("2020-06-01")
    assert until_bound("2020-06", LATER) == day("2020-07-01")
    assert until_bound("2021-12", LATER) == day("2022-01-01")
    assert as_of_bound("2020-02", LATER) == day("2020-02-29")
    assert as_of_bound("2022", LATER) == day("2022-12-31")
    assert since_bound("May 2019", LATER) == day("2019-05-01")
    assert until_bound("May 2019", LATER) == day("2019-06-01")
    assert since_bound("2020/06", LATER) == day("2020-06-01")
    assert parse_when("2022", LATER) == (day("2022-01-01"), True)
    assert since_bound("this year", NOW) == day("2022-01-01")
    assert since_bound("this month", NOW) == day("2022-01-01")


def test_days_instants_and_relative_forms_are_as_before():
    assert until_bound("2022-01-07", NOW) == day("2022-01-08")  # a day given as --until: all of it
    assert as_of_bound("2022-01-07", NOW) == day("2022-01-07")
    assert until_bound("20220107", NOW) == day("2022-01-08")  # a compact ISO date is a day too
    assert until_bound("2022-01-07T12:00:00", NOW) == datetime(2022, 1, 7, 12, tzinfo=UTC)
    assert since_bound("1y", NOW) == day("2021-01-07")
    assert since_bound("last year", NOW) == day("2021-01-07")
    assert since_bound("3m", NOW) == day("2021-10-07")
    assert since_bound("7d", NOW) == day("2021-12-31")


@pytest.mark.parametrize("text", ["-5d", "+5d", "- 5d", "−5d", "-2 weeks"])
@pytest.mark.parametrize("bound", [since_bound, until_bound, as_of_bound])
def test_a_signed_relative_date_is_refused(bound, text):
    with pytest.raises(QuestionError, match="has a sign"):
        bound(text, NOW)


@pytest.mark.parametrize(
    "text",
    ["9999-12-31", "9999", "9999-06", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "9999y", "5000y"],
)
@pytest.mark.parametrize("bound", [since_bound, until_bound, as_of_bound])
def test_a_date_out_of_range_is_a_clear_error(bound, text):
    with pytest.raises(QuestionError) as error:
        bound(text, NOW)
    message = str(error.value)
    assert "\n" not in message and repr(text) in message


@pytest.mark.parametrize("text", ["2019-13", "19", "2019-1-45", "201", "0000", "2019-02-29", "13/13/2020", "2019 06"])
@pytest.mark.parametrize("bound", [since_bound, until_bound, as_of_bound])
def test_digits_that_are_no_date_are_refused_not_guessed(bound, text):
    with pytest.raises(QuestionError, match="is not a date") as error:
        bound(text, NOW)
    assert "\n" not in str(error.value) and repr(text) in str(error.value)


def test_dates_of_digits_are_read_exactly():
    assert until_bound("2019-1-5", NOW) == day("2019-01-06")
    assert since_bound("2020/06/15", NOW) == day("2020-06-15")
    assert since_bound("06/15/2020", NOW) == day("2020-06-15")
    assert since_bound("15.06.2020", NOW) == day("2020-06-15")
    assert until_bound("2020-02-29", NOW) == day("2020-03-01")
    assert until_bound("2019-12", NOW) == day("2020-01-01")
    assert since_bound("March 3, 2020", NOW) == day("2020-03-03")  # words are still dateparser's


def test_the_last_usable_day():
    assert until_bound("9998-12-31", NOW) == day("9999-01-01")
    assert as_of_bound("9998-12-31", NOW) == day("9998-12-31")
    assert since_bound("0001-01-01", NOW) == day("0001-01-01")


# ---------------------------------------------------------------------- the CLI and `ask -`


@pytest.fixture
def env(cli_env):
    folder = cli_env / "dated"
    folder.mkdir()
    rows = [
        json.dumps(
            {
                "title": f"{name.title()} story",
                "text": text,
                "url": f"https://news.example/{name}",
                "published": f"{published}T09:00:00+00:00",
                "outlet": "Gazette",
            }
        )
        for name, published, text in ARTICLES
    ]
    (folder / "articles.jsonl").write_text("\n".join(rows) + "\n")
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML + "search:\n  min_score: 0.3\n  same_story: 1.01\n")
    assert run("index", str(folder)).exit_code == 0
    return cli_env


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def names(record):
    return sorted(h["url"].rsplit("/", 1)[1] for h in record["hits"])


def ask_json(*args):
    result = run("ask", "--json", "-k", "10", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_flags_cover_whole_years_and_months(env):
    data = ask_json("--since", "2021", f"who was elected {PARTY}?")
    assert data["since"] == "2021-01-01T00:00:00+00:00" and "feb" in names(data) and "alice" not in names(data)
    data = ask_json("--until", "2020", f"who was elected {PARTY}?")
    assert data["until"] == "2021-01-01T00:00:00+00:00" and names(data) == ["alice"]
    data = ask_json("--as-of", "2021-06", f"who was elected {PARTY}?")
    assert data["as_of"] == "2021-06-30" and "bob" in names(data) and "carol" not in names(data)


def test_cli_question_sides(env):
    data = ask_json("--as-of", "2022-01-07", f"who was elected {PARTY} before 2021?")
    assert names(data) == ["alice"] and data["understood"].startswith("until 2020-12-31 (from “before 2021”)")
    data = ask_json("--as-of", "2022-01-07", f"who was elected {PARTY} after 2020?")
    assert "alice" not in names(data) and data["understood"].startswith("since 2021-01-01 (from “after 2020”)")
    text = run("ask", "--as-of", "2022-01-07", f"who was elected {PARTY} between 2020 and 2021?").output
    assert "2020-01-01 to 2021-12-31 (from “between 2020 and 2021”)" in text
    either = run("ask", "--as-of", "2022-01-07", f"who was elected {PARTY} between 2021 and 2020?")
    assert either.exit_code == 0 and "2020-01-01 to 2021-12-31" in either.output, either.output


@pytest.mark.parametrize(
    "args",
    [
        ("--until", "9999-12-31"),
        ("--as-of", "9999-12-31"),
        ("--since", "9999-12-31"),
        ("--since", "-5d"),
        ("--as-of", "+3d"),
        ("--until", "2019-13"),
        ("--until", "19"),
        ("--since", "2019-1-45"),
    ],
)
def test_cli_refuses_unusable_dates_in_one_line(env, args):
    result = run("ask", *args, f"who was elected {PARTY}?")
    assert result.exit_code == 1
    assert "unexpected failure" not in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and args[1] in result.output


def test_cli_extreme_but_usable_days(env):
    assert ask_json("--as-of", "9998-12-31", f"who was elected {PARTY} this year?")["as_of"] == "9998-12-31"
    assert ask_json("--as-of", "0001-01-01", f"who was elected {PARTY} this week?")["hits"] == []


def test_json_lines_read_dates_as_the_flags_do(env):
    question = f"who was elected {PARTY}?"
    lines = [
        json.dumps({"question": question, "since": "2021", "k": 10}),
        json.dumps({"question": question, "until": "2020", "k": 10}),
        json.dumps({"question": question, "as_of": "2021-06", "k": 10}),
        json.dumps({"question": question, "until": "9999-12-31"}),
        json.dumps({"question": question, "as_of": "9999-12-31"}),
        json.dumps({"question": question, "since": "-5d"}),
        json.dumps({"question": f"who was elected {PARTY} between 2022 and 2020?"}),
        json.dumps({"question": f"who was elected {PARTY} before 2021?", "as_of": "2022-01-07", "k": 10}),
    ]
    result = run("ask", "--json", "-", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == len(lines)
    assert records[0]["since"] == "2021-01-01T00:00:00+00:00" and "feb" in names(records[0])
    assert records[1]["until"] == "2021-01-01T00:00:00+00:00" and names(records[1]) == ["alice"]
    assert records[2]["as_of"] == "2021-06-30" and "carol" not in names(records[2])
    for record in records[3:6]:
        assert record["hits"] == [] and record["error"] and "unexpected failure" not in record["error"]
    assert "has a sign" in records[5]["error"]
    assert "error" not in records[6] and records[6]["understood"]  # read as 2020 to 2022, not refused
    assert names(records[7]) == ["alice"] and records[7]["understood"].startswith("until 2020-12-31")


@pytest.mark.parametrize(
    "question",
    [
        "Who called for a one-year moratorium on face recognition?",
        "What was in the two-year contract?",
        "Who proposed a five-year plan?",
        "Why did a three-year deal follow a one year delay?",
        "What did the court rule a month later?",  # later than some event, not than today
    ],
)
def test_a_length_joined_to_its_noun_is_not_a_time_to_search(question):
    # dateparser reads "a one-year" as since January: every article before would be dropped
    # and "nothing since 2026-01-01 answers" shown for a question that named no time.
    assert reading(question) == (None, None, ())


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What happened on the one-year anniversary in 2020?", ("2020-01-01", "2021-01-01", ("in 2020",))),
        ("Who ended the two-year ban last week?", ("2026-11-29", None, ("last week",))),
        ("What changed one year ago?", ("2025-12-06", None, ("one year ago",))),
        ("What happened in the last two weeks?", ("2026-11-22", None, ("two weeks",))),
    ],
)
def test_a_time_beside_a_length_is_still_read(question, expected):
    assert reading(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "Why did the Dow fall by 1800 points?",  # was "until 1800-12-31"
        "Which city hired 2000 new officers?",
        "Why did more than 2000 people protest?",
        "Who sued over 1900 cameras?",
        "Why did the Dow fall 1800 points?",  # "fall" the verb, not the season
    ],
)
def test_a_count_that_looks_like_a_year_is_no_date(question):
    assert reading(question) == (None, None, ())


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How did the index fall by 2000 points in 2020?", ("2020-01-01", "2021-01-01", ("in 2020",))),
        ("What did the 2020 protests change?", ("2020-01-01", "2021-01-01", ("the 2020",))),
        ("What happened in 2019 protests?", ("2019-01-01", "2020-01-01", ("in 2019",))),
        ("Who won the 2021 Oscars?", ("2021-01-01", "2022-01-01", ("the 2021",))),
        ("Which law passed in March 2020 lockdowns?", ("2020-03-01", "2020-04-01", ("in March 2020",))),
        ("Where were 1200 arrests made before 2020?", (None, "2020-01-01", ("before 2020",))),
        # A year before a plural anywhere else is a year (a review found these lost).
        ("Which 2024 candidates dropped out?", ("2024-01-01", "2025-01-01", ("2024",))),
        ("Why did 2021 home sales surge?", ("2021-01-01", "2022-01-01", ("2021",))),
        ("How many 2024 voters turned out?", ("2024-01-01", "2025-01-01", ("2024",))),
        ("What changed between 2019 and 2021 protests?", ("2019-01-01", "2022-01-01", ("between 2019 and 2021",))),
        ("What was announced 3 days back?", ("2026-12-03", None, ("3 days",))),
    ],
)
def test_a_year_before_a_plural_is_still_a_year_where_the_words_say_so(question, expected):
    assert reading(question) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What has happened to the library since May?", ("2026-05-01", None, ("since May",))),
        ("What happened before March, and who said it?", (None, "2026-03-01", ("before March",))),
        ("What has changed since May took office?", (None, None, ())),  # Theresa May, not the month
        ("Who will finish the works by May?", (None, None, ())),  # a deadline: which year is not said
    ],
)
def test_a_month_named_alone_after_a_side_word_is_the_latest_such_month(question, expected):
    assert reading(question) == expected
