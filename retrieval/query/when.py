"""Time in questions and filters: "as of" a day, "last week", "in 2018", "latest".

Dates are read by dateparser (installed with trafilatura), never by hand-written rules;
this module only decides what a phrase dateparser found *means* for a search: a range of
publication dates (a filter) or a leaning towards recent articles (the recency prior,
``retrieval.query.recency``).

Every bound is a UTC datetime. ``until`` bounds are exclusive: a day given as ``until``
means that whole day, so it becomes the start of the next day. A month or a year given as
a filter means all of it too: ``--since 2022`` is from 2022-01-01, ``--until 2020`` through
2020-12-31, ``--as-of 2020-06`` as on 2020-06-30.

In a question, the word before a date says which side of it is searched: "before 2022",
"prior to", "earlier than" (nothing from 2022 on: until 2021-12-31); "until 2021", "till",
"through", "up to", "by", "no later than", "on or before" (all of 2021 too: until
2021-12-31); "after 2020", "later than" (since 2021-01-01); "since 2021", "on or after", "no
earlier than", "from 2021 on" (since 2021-01-01); "between 2019 and 2021" / "from 2019 to
2021" (2019-01-01 to 2021-12-31). "not before 2021" is since 2021-01-01 and "not after 2018"
until 2018-12-31; any other side word after "not", "never", "no" or "n't" sets no range, as do
two sides at once ("before and after 2020", "before 2020 or after 2022"): no range rather
than a wrong one.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from retrieval.errors import QuestionError

DAY = timedelta(days=1)
# "7d", "2w", "3m", "1y": a short form of "N days/weeks/months/years ago".
_SHORT = re.compile(r"^\s*(\d{1,4})\s*([dwmy])\s*$", re.IGNORECASE)
_SHORT_UNITS = {"d": "days", "w": "weeks", "m": "months", "y": "years"}
# "-5d", "+2 weeks": a sign dateparser reads either way (or as the future); refused.
_SIGNED = re.compile(r"^\s*[+\-−]\s*\d")
# A filter's date of digits only ("2019-13", "19", "201") is read here, never guessed at by
# dateparser: a year, a year and month, a day, or a day of a four-digit year such as 06/15/2020.
_DIGITS = re.compile(r"[\d\s./\-]+")
_YMD = re.compile(r"(\d{4})(?:([-/.])(\d{1,2})(?:\2(\d{1,2}))?)?")
_DMY = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})")
# The latest bound a filter's date may set: the day (or year) after an as-of day must
# still be a datetime, which ends in 9999.
_TOO_LATE = datetime(9999, 1, 1, tzinfo=UTC)
_WHEN_HINT = "use YYYY-MM-DD, YYYY-MM, YYYY, 7d or words such as 'last week'"
# A phrase dateparser finds in a question counts only when it carries a number or one of
# these words: a bare month name is too often a verb ("who may lead") or a name.
_RELATIVE = re.compile(r"\b(ago|last|past|this|yesterday|today|week|weeks|month|months|day|days|year|years)\b", re.I)
_YEAR = re.compile(r"\b(1[89]\d\d|2[01]\d\d)\b")
# What makes "a year", "two weeks" a time rather than a length: "ago", "last", "this"...
_DIRECTION = re.compile(r"\b(ago|back|last|past|this|yesterday|today|previous|earlier)\b", re.I)
# "a one-year moratorium", "a two-year-old law", "year-long": a length, not a time to search.
_COMPOUND = re.compile(r"\w-(?:day|week|month|year|decade)s?\b|\b(?:day|week|month|year|decade)s?-\w", re.I)
# Words that ask for the current state of things: no filter, a stronger recency prior.
_RECENT = re.compile(
    r"\b(latest|newest|most recent|recent|recently|currently|current|now|nowadays|today|these days|at the moment|"
    r"at present|so far|still)\b",
    re.IGNORECASE,
)
# The words that put a date at one end of the range searched ("before 2022"). Whole words
# only: "aftermath", "sincere", "untill" are not them.
_SIDE = re.compile(
    r"(?<![\w-])(not?\s+later\s+than|not?\s+earlier\s+than|on\s+or\s+before|on\s+or\s+after|up\s+(?:to|until)|"
    r"before|prior\s+to|earlier\s+than|until|till|til|through|thru|by|after|later\s+than|since|between|from)\s+",
    re.IGNORECASE,
)
_BEFORE = {"before", "prior to", "earlier than"}  # nothing from that date on
_THROUGH = {"until", "till", "til", "through", "thru", "up to", "up until", "by", "on or before"}
_THROUGH |= {"no later than", "not later than"}  # up to that date, all of it too
_AFTER = {"after", "later than"}  # from the end of that date
_SINCE = {"since", "on or after", "no earlier than", "not earlier than"}  # from its start
# "not before 2021", "never after", "wasn't until": a side word denied.
_NOT = re.compile(r"(?:(?<![\w-])(not|never|no)|n[’']t)\s+$", re.IGNORECASE)
_DENIED = {"before": _SINCE, "after": _THROUGH}  # what "not before" and "not after" mean
# "the end of 2020", "the start of May 2019": a point at one end of that date.
_EDGE = re.compile(r"(?:the\s+)?(end|start|beginning)\s+of\s+", re.IGNORECASE)
# Two side words of one date ("before and after 2020", "before/after", "before, during and
# after"): both sides, so no one range.
_ONE_SIDE = r"(?:before|after|since|until|till|prior\s+to|earlier\s+than|later\s+than)"
_BOTH = re.compile(
    rf"(?<![\w-]){_ONE_SIDE}(?:\s*(?:,|/|&|\band\b|\bor\b)\s*(?:during|{_ONE_SIDE}))+(?![\w-])", re.IGNORECASE
)
# What joins the two ends of a range, and what makes "from X" open-ended.
_AND = re.compile(r"\s*(?:,\s*)?(?:and|to|until|till|through|thru|up\s+to|up\s+until|-|–|—)\s+", re.IGNORECASE)
_ONWARD = re.compile(r"\s*(?:on|onwards?|forwards?|and\s+(?:on|after|later))\b", re.IGNORECASE)
_NOW_END = re.compile(r"(?:now|today|the\s+present(?:\s+day)?|present|date)\b", re.IGNORECASE)
# A side word with a date that could not be read exactly ("before the end of 2020", "after
# the 2020 election") is no reason to search that date alone: such a phrase sets no range.
# ("through", "by" and "up to" are too common to count without a date right after them.)
_SIDE_WORD = (
    r"(?:before|prior\s+to|until|till|til|after|since|between|earlier\s+than|later\s+than|"
    r"on\s+or\s+before|on\s+or\s+after|up\s+until)"
)
_SIDE_NEAR = re.compile(rf"(?<![\w-]){_SIDE_WORD}\s+(?:\S+\s+){{0,3}}$", re.IGNORECASE)
_SIDE_IN = re.compile(rf"(?<![\w-]){_SIDE_WORD}(?![\w-])", re.IGNORECASE)
# "in 2019 and 2021": a second year that ends the question or a clause extends the first.
_ALSO = re.compile(r"\s*(?:,\s*)?(?:and|or|&)\s+(?:in\s+)?", re.IGNORECASE)
_MONTHS = {m.lower() for m in (*calendar.month_name[1:], *calendar.month_abbr[1:])} | {"sept"}
_PUNCT = ".,;:!?)]}\"'”’»"
# Words no date phrase holds: where one ends.
_JOINS = {"and", "or", "but", "to", "through", "thru", "until", "till", "til", "-", "–", "—", "on", "onward", "onwards"}
_JOINS |= {"forward", "forwards", "before", "after", "since", "from", "between", "prior", "by", "up"}
_MAX_DATE_WORDS = 6
_MAX_SIDES = 8  # side words looked at in one question


def _settings(now: datetime) -> dict:
    return {
        "RELATIVE_BASE": now.astimezone(UTC).replace(tzinfo=None),
        "PREFER_DATES_FROM": "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }


def day_start(value: datetime) -> datetime:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def end_of_day(value: datetime) -> datetime:
    """The exclusive bound that keeps all of ``value``'s day: the next day's start."""
    return day_start(value) + DAY


def now_utc() -> datetime:
    return datetime.now(UTC)


def _read_when(text: str, now: datetime | None = None) -> tuple[datetime, datetime | None]:
    """What a filter's date covers: (start, exclusive end) for a day, a month or a year;
    (instant, None) for a date-time. :class:`QuestionError` when it is not a date, or is
    one no search can use (signed, out of range)."""
    raw = (text or "").strip()
    if not raw:
        raise QuestionError(f"A date is empty; {_WHEN_HINT}.")
    shown = repr(raw[:40])
    if _SIGNED.match(raw):
        raise QuestionError(f"{shown} has a sign; dates are counted back from today: write 5d for five days ago.")
    try:
        return _checked(_span(raw, now or now_utc()), shown)
    except (OverflowError, ValueError):  # date arithmetic past year 1 or 9999
        raise QuestionError(f"{shown} is out of range; use a date from the years 1 to 9998.") from None


def _checked(span: tuple[datetime, datetime | None], shown: str) -> tuple[datetime, datetime | None]:
    if (span[1] or span[0]) > _TOO_LATE:
        raise QuestionError(f"{shown} is too far in the future; use a date before 9999.")
    return span


def _span(raw: str, now: datetime) -> tuple[datetime, datetime | None]:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is not None:
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        try:
            date.fromisoformat(raw)  # a date with no time of day: all of that day
        except ValueError:
            return value, None
        lo = day_start(value)
        return lo, lo + DAY
    if _DIGITS.fullmatch(raw):
        span = _digits(raw, now)
        if span is None:
            raise QuestionError(f"{raw[:40]!r} is not a date; {_WHEN_HINT}.")
        return span
    short = _SHORT.match(raw)
    phrase = f"{short[1]} {_SHORT_UNITS[short[2].lower()]} ago" if short else raw
    from dateparser.date import DateDataParser

    try:
        data = DateDataParser(languages=["en"], settings=_settings(now)).get_date_data(phrase)
    except (OverflowError, ValueError):
        data = None
    if data is None or data.date_obj is None:
        raise QuestionError(f"{raw[:40]!r} is not a date; {_WHEN_HINT}.")
    # What people write ("last week", "2022", "May 2019") names a day or a period, not an
    # instant: "2022" is all of 2022, not today's day of 2022.
    start = day_start(data.date_obj)
    period = data.period or "day"
    words = phrase.lower()
    if re.search(r"\bthis\b", words) and period in ("week", "month", "year"):
        today = day_start(now)
        return (today - 6 * DAY, today + DAY) if period == "week" else _period(start, period)
    if period in ("month", "year") and not _RELATIVE.search(words):
        return _period(start, period)
    return start, start + DAY


def _digits(raw: str, now: datetime) -> tuple[datetime, datetime] | None:
    """A date of digits only, or None when it is not one: "2019", "2019-06", "2019/6/5", or
    "06/15/2020" (day and month either way round, as dateparser reads them)."""
    ymd = _YMD.fullmatch(raw)
    if ymd:
        year, month, mday = int(ymd[1]), int(ymd[3] or 1), int(ymd[4] or 1)
        if not (year >= 1 and 1 <= month <= 12 and 1 <= mday <= calendar.monthrange(year, month)[1]):
            return None
        start = datetime(year, month, mday, tzinfo=UTC)
        return _period(start, "day" if ymd[4] else "month" if ymd[3] else "year")
    dmy = _DMY.fullmatch(raw)
    if not dmy:
        return None
    from dateparser.date import DateDataParser

    try:
        value = DateDataParser(languages=["en"], settings=_settings(now)).get_date_data(raw).date_obj
    except (OverflowError, ValueError):
        value = None
    given = {(int(dmy[1]), int(dmy[3])), (int(dmy[3]), int(dmy[1]))}
    if value is None or value.year != int(dmy[4]) or (value.month, value.day) not in given:
        return None
    start = day_start(value)
    return start, start + DAY


def parse_when(text: str, now: datetime | None = None) -> tuple[datetime, bool]:
    """A date as a filter or ``--as-of`` takes it: ``2024-05-01``, ``2024-05``, ``2024``, an
    ISO date-time, ``7d``/``2w``/``3m``/``1y``, or what dateparser reads ("last week",
    "yesterday", "3 days ago", "May 2019"). Returns (UTC datetime, whether it names a day or
    a longer period rather than an instant): a period's first day. :class:`QuestionError`
    when it is not a date."""
    lo, hi = _read_when(text, now)
    return lo, hi is not None


def since_bound(text: str, now: datetime | None = None) -> datetime:
    """``--since``: from the first moment of the day, month or year named."""
    return _read_when(text, now)[0]


def until_bound(text: str, now: datetime | None = None) -> datetime:
    """``--until``: a day means all of it (the bound is the next day's start, exclusive); a
    month or a year, all of it."""
    lo, hi = _read_when(text, now)
    return hi or lo


def as_of_bound(text: str, now: datetime | None = None) -> datetime:
    """``--as-of``: the day (or instant) taken as today; of a month or a year, its last day."""
    lo, hi = _read_when(text, now)
    return hi - DAY if hi else lo


@dataclass(frozen=True)
class TimeReading:
    """What a question says about time: a range of publication dates and/or a wish for
    the latest. ``phrases`` are the words it was read from."""

    since: datetime | None = None
    until: datetime | None = None  # exclusive
    recent: bool = False
    phrases: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.recent)

    def describe(self) -> str:
        return describe_range(self.since, self.until, self.recent)


def describe_range(since: datetime | None, until: datetime | None, recent: bool = False) -> str:
    """'since 2024-05-01', '2018-01-01 to 2018-12-31', 'until 2022-01-07', 'latest first'."""
    parts = []
    if since and until:
        parts.append(f"{since.date().isoformat()} to {(until - DAY).date().isoformat()}")
    elif since:
        parts.append(f"since {since.date().isoformat()}")
    elif until:
        parts.append(f"until {(until - DAY).date().isoformat()}")
    if recent:
        parts.append("latest first")
    return ", ".join(parts)


def _period(start: datetime, period: str) -> tuple[datetime, datetime]:
    if period == "year":
        lo = start.replace(month=1, day=1)
        return lo, lo.replace(year=lo.year + 1)
    if period == "month":
        lo = start.replace(day=1)
        return lo, (lo + timedelta(days=32)).replace(day=1)
    if period == "week":
        return start, start + 7 * DAY
    return start, start + DAY


def _phrase_span(phrase: str, data, today: datetime) -> tuple[datetime, datetime | None]:
    """The days a date phrase of a question names: (start, exclusive end), the end None
    when it runs up to today ("this week") or is a point ("last week", "3 months ago")."""
    words = phrase.lower()
    start = day_start(data.date_obj)
    period = data.period or "day"
    if _YEAR.search(words):
        return _period(start, period)
    if "yesterday" in words:
        return start, start + DAY
    if period == "month" and all(w in _MONTHS for w in words.strip(_PUNCT).split()):
        return _period(start, "month")  # "May": all of the latest May
    if "this" in words:
        if period == "week":
            return today - 6 * DAY, None
        if period in ("month", "year"):
            return _period(start, period)[0], None
        return today, None
    return start, (start + DAY if period == "day" else None)


# A year's number is a count only where the words say so: a quantity word or a verb of
# change before it and a plural after ("fell by 1800 points", "more than 2000 people",
# "hired 2000 new officers"). Anywhere else it is a year ("Which 2024 candidates…", "the
# 2020 protests"): a year read as a count loses the question's time, a count read as a
# year only narrows the first search, which gives way to all dates when nothing answers.
_COUNT_LEAD = frozenset(
    {
        "by",
        "than",
        "over",
        "under",
        "about",
        "around",
        "nearly",
        "almost",
        "approximately",
        "roughly",
        "some",
        "least",
        "most",
        "only",
        "just",
        "another",
        "extra",
        "additional",
        "hired",
        "fired",
        "cut",
        "added",
        "lost",
        "gained",
        "shed",
        "fell",
        "rose",
        "dropped",
        "jumped",
        "climbed",
        "plunged",
        "sank",
        "soared",
        "tumbled",
        "fall",
        "drop",
        "rise",
        "gain",
        "lose",
        "add",
        "hire",
        "fire",
        "sold",
        "bought",
        "arrested",
        "killed",
        "injured",
        "evacuated",
    }
)
_EVENTS = frozenset(
    {
        "elections",
        "games",
        "finals",
        "playoffs",
        "awards",
        "news",
        "results",
        "polls",
        "primaries",
        "midterms",
        "seasons",
        "olympics",
    }
)
_IRREGULAR = frozenset({"people", "police", "staff", "children", "men", "women", "personnel"})
# A word between a number and a plural that makes it no count ("June 19, 1865 when slaves…").
_FUNCTION = frozenset(
    {
        "when",
        "where",
        "who",
        "whom",
        "whose",
        "which",
        "that",
        "what",
        "while",
        "as",
        "if",
        "was",
        "were",
        "is",
        "are",
        "had",
        "has",
        "have",
        "did",
        "do",
        "does",
        "and",
        "or",
        "but",
        "to",
        "for",
        "with",
        "by",
        "on",
        "at",
    }
)


def _plural(word: str) -> bool:
    w = word.strip(_PUNCT)
    if not w.isalpha() or not w.islower() or w in _EVENTS:
        return False
    return w in _IRREGULAR or (len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")))


def _count(question: str, start: int, end: int) -> bool:
    """Whether the year-like number at ``question[start:end]`` counts things."""
    before = question[:start].split()
    lead = before[-1].lower().strip(_PUNCT) if before else ""
    if lead not in _COUNT_LEAD:
        return False
    after = question[end:].split()[:2] if question[end : end + 1] == " " else []
    if not after:
        return False
    if _plural(after[0]):
        return True
    middle = after[0]  # "2000 new officers"
    return len(after) == 2 and middle.isalpha() and middle.islower() and middle not in _FUNCTION and _plural(after[1])


def _counted(phrase: str, question: str, at: int) -> bool:
    """Whether every year in ``phrase`` (found at ``question[at:]``) is a count."""
    years = list(_YEAR.finditer(phrase))
    return bool(years) and at >= 0 and all(_count(question, at + y.start(), at + y.end()) for y in years)


def _bare_month(phrase: str, question: str, at: int, end: int) -> bool:
    """A month named alone after a side word ("since May?", "before March, who…"): the
    latest such month up to today. Only where it ends a clause ("since May took office"
    names a person), and not after "by" ("by July 4" is a deadline ahead, more often than
    not: which year it means, the question does not say)."""
    words = phrase.lower().strip(_PUNCT).split()
    rest = question[end:].lstrip()
    side = question[:at].split()[-1:] or [""]
    return len(words) == 1 and words[0] in _MONTHS and side[0].lower() != "by" and (not rest or rest[0] in ",.;:!?)")


def _date_word(token: str) -> bool:
    word = token.lower().strip(_PUNCT)
    return bool(re.search(r"\d", word) or word in _MONTHS or _RELATIVE.fullmatch(word))


def _date_at(question: str, at: int, parser, today: datetime):
    """The longest date phrase dateparser reads at ``question[at:]`` that starts and ends
    with a date word ("March 3, 2020", "May 2019", "last week", not "the 2020"):
    (start, exclusive end or None, where the phrase ends), or None."""
    tokens = []
    for match in re.finditer(r"\S+", question[at : at + 200]):
        word = match.group(0)
        if word.lower().strip(_PUNCT) in _JOINS:
            break  # "2020 and 2022" is two dates, whatever dateparser makes of it
        tokens.append(match)
        if len(tokens) == _MAX_DATE_WORDS or (word[-1] in ".;:!?)" and word.lower().strip(_PUNCT) not in _MONTHS):
            break
    if not tokens or not _date_word(tokens[0].group(0)):
        return None
    for n in range(len(tokens), 0, -1):
        if not _date_word(tokens[n - 1].group(0)):
            continue
        end = at + tokens[n - 1].end()
        phrase = question[at:end].rstrip(_PUNCT)
        end = at + len(question[at:end].rstrip(_PUNCT))
        month_only = _bare_month(phrase, question, at, end)
        if not (_YEAR.search(phrase) or _RELATIVE.search(phrase) or month_only) or _counted(phrase, question, at):
            continue
        try:
            data = parser.get_date_data(phrase)
            if data.date_obj is None:
                continue
            lo, hi = _phrase_span(phrase, data, today)
        except (OverflowError, ValueError):
            continue
        return lo, hi, end
    return None


def _side_date(question: str, at: int, parser, today: datetime):
    """The date a side word is followed by, as :func:`_date_at` reads it; "the end of 2020" is
    the point at which 2020 ends, "the start of 2020" the one at which it begins."""
    edge = _EDGE.match(question, at)
    found = _date_at(question, edge.end() if edge else at, parser, today)
    if found is None or edge is None:
        return found
    lo, hi, end = found
    if hi is None:
        return None  # "the end of this week": not read exactly
    point = hi if edge[1].lower() == "end" else lo
    return point, point, end


def _end_at(question: str, at: int, parser, today: datetime):
    """The far end of a range ("... and 2022", "... to now"): (its start, its exclusive end
    or None when it runs up to today, where it ends), or None."""
    now = _NOW_END.match(question, at)
    if now:
        return today, None, now.end()
    return _side_date(question, at, parser, today)


def _through(question: str, at: int, lo: datetime, hi: datetime | None, end: int, today: datetime) -> datetime:
    """The exclusive bound that keeps all of a date: "until last week" keeps that day, "until
    this week" up to today."""
    if hi is not None:
        return hi
    return today + DAY if re.search(r"\bthis\b", question[at:end], re.IGNORECASE) else lo + DAY


def _sided(question: str, parser, today: datetime) -> list[tuple[int, int, datetime | None, datetime | None]]:
    """The ranges side words set in ``question``: (start, end of the words, since, until),
    both None where the words ask about both sides or deny one ("not until 2020")."""
    found = []
    for both in list(_BOTH.finditer(question))[:_MAX_SIDES]:
        at = both.end() + len(question[both.end() :]) - len(question[both.end() :].lstrip())
        date = _side_date(question, at, parser, today)
        found.append((both.start(), date[2] if date else both.end(), None, None))
    for side in list(_SIDE.finditer(question))[:_MAX_SIDES]:
        word = re.sub(r"\s+", " ", side.group(1).lower())
        first = _side_date(question, side.end(), parser, today)
        if first is None:
            continue
        lo, hi, end = first
        denied = _NOT.search(question, 0, side.start())
        if denied:
            if denied[1] is None or denied[1].lower() != "not" or word not in _DENIED:
                found.append((denied.start(), end, None, None))  # "never before", "wasn't until"
                continue
            word = "on or after" if word == "before" else "on or before"
            side_start = denied.start()
        else:
            side_start = side.start()
        if word in _BEFORE:
            found.append((side_start, end, None, lo))
            continue
        if word in _THROUGH:
            found.append((side_start, end, None, _through(question, side.end(), lo, hi, end, today)))
            continue
        if word in _SINCE:
            found.append((side_start, end, lo, None))
            continue
        if word in _AFTER:
            found.append((side_start, end, hi or lo, None))
            continue
        if word == "from" and (onward := _ONWARD.match(question, end)):
            found.append((side_start, onward.end(), lo, None))
            continue
        joined = _AND.match(question, end)
        if not joined or (word == "from" and joined.group(0).strip().lower() == "and"):
            continue  # "from 2020" alone is 2020; "between 2020" alone is nothing
        last = _end_at(question, joined.end(), parser, today)
        if last is None:
            continue
        last_lo, last_hi, last_end = last
        if lo >= (last_hi or today + DAY) or last_lo < lo:
            if word != "between" or last_hi is None:
                # "from 2020 to 2016 levels": not a range of dates (a question is not refused
                # for it, as a flag would be); nothing is read from it.
                found.append((side_start, last_end, None, None))
                continue
            # "between 2022 and 2020" is the same span as "between 2020 and 2022".
            lo, last_hi = last_lo, hi or lo + DAY
        found.append((side_start, last_end, lo, last_hi))
    kept = []
    for entry in sorted(found, key=lambda e: (e[0], -e[1])):
        if not kept or entry[0] >= kept[-1][1]:  # "through 2021" in "from 2019 through 2021"
            kept.append(entry)
    return kept


def _kind(since: datetime | None, until: datetime | None) -> str:
    return "range" if since and until else "since" if since else "until" if until else "none"


def _joined(question: str, sided: list) -> tuple[int, int, datetime | None, datetime | None] | None:
    """The first side-word range, with the one right after it when that closes it: "after
    2020 and before 2023". Two sides that cannot be one range ("before 2020 and after 2022",
    "before 2020 or after 2022") set none."""
    if not sided:
        return None
    start, end, since, until = sided[0]
    if len(sided) > 1:
        n_start, n_end, n_since, n_until = sided[1]
        kinds = {_kind(since, until), _kind(n_since, n_until)}
        gap = question[end:n_start]
        if kinds == {"since", "until"} and re.fullmatch(r"\s*,?\s*(?:either\s+)?(?:or|and/or)\s*", gap, re.I):
            return start, n_end, None, None  # either side: no one range
        if kinds == {"since", "until"} and re.fullmatch(r"\s*,?\s*(?:and|but)?\s*", gap, re.I):
            since, until, end = since or n_since, until or n_until, n_end
            if since >= until:  # "before 2020 and after 2022" (two sides), or "after 2021 and
                return start, end, None, None  # before 2020" (none): no one range either way
    return start, end, since, until


def _other_year(question: str, at: int, parser, today: datetime):
    """A second year joined to a date found at ``question[:at]`` that ends the question or a
    clause ("in 2019 and 2021?", "in 2019 or 2021, who"): (start, exclusive end, where it
    ends), or None. A year followed by other words ("2019 and 2000 people") may be a count."""
    also = _ALSO.match(question, at)
    if not also:
        return None
    other = _date_at(question, also.end(), parser, today)
    if other is None or other[1] is None or not _YEAR.search(question[also.end() : other[2]]):
        return None
    if not re.match(r"\s*(?:$|[.,;:!?)])", question[other[2] :]):
        return None
    return other


def read_question(question: str, as_of: datetime) -> TimeReading:
    """The time a question asks about, relative to ``as_of`` (the day taken as today).

    "in 2018", "in May 2019", "on March 3, 2020": that period. "last week", "2 months ago",
    "last year": since then. "this week" (the last seven days), "this month", "this year":
    since the period began. "yesterday": since that day. "in 2019 and 2021": 2019-01-01 to
    2021-12-31. "before 2022": until 2021-12-31; "until 2021", "through 2021", "by 2021":
    until 2021-12-31; "after 2020": since 2021-01-01; "since 2021", "from 2021 on": since
    2021-01-01; "between 2019 and 2021", "from 2019 to 2021": 2019-01-01 to 2021-12-31
    ("between 2021 and 2019" is the same span; "from 2021 to 2019" and "after 2021 and
    before 2019" set none: a question is never refused for its dates). Both sides of a date, or a side denied
    ("never before 2020"), set no range (see the module's doc). "latest", "currently", "now",
    "today": no filter, the recency prior counts for more. The first date phrase decides; a
    question rarely names two."""
    from dateparser.date import DateDataParser
    from dateparser.search import search_dates

    recent = bool(_RECENT.search(question))
    settings = _settings(as_of)
    today = day_start(as_of)
    since = until = None
    phrases = [m.group(0) for m in _RECENT.finditer(question)] if recent else []
    parser = DateDataParser(languages=["en"], settings=settings)
    sided = _joined(question, _sided(question, parser, today))
    try:
        found = search_dates(question, languages=["en"], settings=settings) or []
    except Exception:  # noqa: BLE001 - a question dateparser cannot read has no dates
        found = []
    cursor = 0
    for phrase, _ in found:
        at = question.find(phrase, cursor)
        if sided is not None and (at < 0 or at >= sided[0]):
            break  # the side-word range comes first
        cursor = at + len(phrase) if at >= 0 else cursor
        words = phrase.lower()
        year = _YEAR.search(words)
        relative = _RELATIVE.search(words)
        if not (year or relative) or re.fullmatch(r"\W*(now|today)\W*", words):
            continue
        before = " ".join(question[:at].split()[-2:]) if at >= 0 else ""
        if year and _counted(phrase, question, at):
            continue  # "more than 2000 people"
        after = " ".join(question[at + len(phrase) :].split()[:1]) if at >= 0 else ""
        if not year and not _DIRECTION.search(f"{before} {words} {after}"):
            continue  # "a one year delay", "a month later": a length, not a time from today
        if not year and at >= 0 and _COMPOUND.search(question[max(0, at - 1) : at + len(phrase) + 1]):
            continue
        if _SIDE_IN.search(phrase) or (at >= 0 and _SIDE_NEAR.search(question[:at])):
            continue  # a side of a date not read exactly: not that date alone either
        try:
            data = parser.get_date_data(phrase)
            if data.date_obj is None:
                continue
            lo, hi = _phrase_span(phrase, data, today)
        except (OverflowError, ValueError):
            continue
        if not year:  # "last week", "3 days ago", "yesterday", "this month": since then
            hi = None
        elif at >= 0 and (other := _other_year(question, at + len(phrase), parser, today)):
            lo, hi = min(lo, other[0]), max(hi, other[1])  # "in 2019 and 2021": all of both
            phrase = question[at : other[2]]
        since, until = lo, hi
        phrases.append(phrase.strip())
        sided = None
        break
    if sided is not None:
        start, end, since, until = sided
        if since or until:
            phrases.append(question[start:end].strip())
    if until is not None and until > end_of_day(as_of):
        until = None  # the as-of day bounds it anyway
    return TimeReading(since, until, recent, tuple(dict.fromkeys(phrases)))
