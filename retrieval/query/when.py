"""Time in questions and filters: "as of" a day, "last week", "in 2018", "latest".

Dates are read by dateparser (installed with trafilatura), never by hand-written rules;
this module only decides what a phrase dateparser found *means* for a search: a range of
publication dates (a filter) or a leaning towards recent articles (the recency prior,
``retrieval.query.recency``).

Every bound is a UTC datetime. ``until`` bounds are exclusive: a day given as ``until``
means that whole day, so it becomes the start of the next day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from retrieval.errors import QuestionError

DAY = timedelta(days=1)
# "7d", "2w", "3m", "1y": a short form of "N days/weeks/months/years ago".
_SHORT = re.compile(r"^\s*(\d{1,4})\s*([dwmy])\s*$", re.IGNORECASE)
_SHORT_UNITS = {"d": "days", "w": "weeks", "m": "months", "y": "years"}
_ISO_DAY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")
# A phrase dateparser finds in a question counts only when it carries a number or one of
# these words: a bare month name is too often a verb ("who may lead") or a name.
_RELATIVE = re.compile(r"\b(ago|last|past|this|yesterday|today|week|weeks|month|months|day|days|year|years)\b", re.I)
_YEAR = re.compile(r"\b(1[89]\d\d|2[01]\d\d)\b")
# Words that ask for the current state of things: no filter, a stronger recency prior.
_RECENT = re.compile(
    r"\b(latest|newest|most recent|recent|recently|currently|current|now|nowadays|today|these days|at the moment|"
    r"at present|so far|still)\b",
    re.IGNORECASE,
)


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


def parse_when(text: str, now: datetime | None = None) -> tuple[datetime, bool]:
    """A date as a filter or ``--as-of`` takes it: ``2024-05-01``, an ISO date-time,
    ``7d``/``2w``/``3m``/``1y``, or what dateparser reads ("last week", "yesterday",
    "3 days ago", "May 2019"). Returns (UTC datetime, whether it names a whole day rather
    than an instant); :class:`QuestionError` when it is not a date."""
    raw = (text or "").strip()
    if not raw:
        raise QuestionError("A date is empty; use YYYY-MM-DD, 7d or words such as 'last week'.")
    now = now or now_utc()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is not None:
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC), bool(_ISO_DAY.match(raw))
    short = _SHORT.match(raw)
    phrase = f"{short[1]} {_SHORT_UNITS[short[2].lower()]} ago" if short else raw
    import dateparser

    found = dateparser.parse(phrase, languages=["en"], settings=_settings(now))
    if found is None:
        raise QuestionError(f"{raw[:40]!r} is not a date; use YYYY-MM-DD, 7d or words such as 'last week'.")
    found = found.replace(tzinfo=UTC)
    return found, True  # what people write ("last week") names a day, not an instant


def since_bound(text: str, now: datetime | None = None) -> datetime:
    value, whole_day = parse_when(text, now)
    return day_start(value) if whole_day else value


def until_bound(text: str, now: datetime | None = None) -> datetime:
    """``--until``: a day means all of it (the bound is the next day's start, exclusive)."""
    value, whole_day = parse_when(text, now)
    return end_of_day(value) if whole_day else value


def as_of_bound(text: str, now: datetime | None = None) -> datetime:
    """``--as-of``: the day (or instant) taken as today."""
    value, whole_day = parse_when(text, now)
    return day_start(value) if whole_day else value


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


def read_question(question: str, as_of: datetime) -> TimeReading:
    """The time a question asks about, relative to ``as_of`` (the day taken as today).

    "in 2018", "in May 2019", "on March 3, 2020": that period. "last week", "2 months ago",
    "last year": since then. "this week" (the last seven days), "this month", "this year":
    since the period began. "yesterday": since that day. "latest", "currently", "now", "today":
    no filter, the recency prior counts for more."""
    from dateparser.date import DateDataParser
    from dateparser.search import search_dates

    recent = bool(_RECENT.search(question))
    settings = _settings(as_of)
    try:
        found = search_dates(question, languages=["en"], settings=settings) or []
    except Exception:  # noqa: BLE001 - a question dateparser cannot read has no dates
        found = []
    today = day_start(as_of)
    since = until = None
    phrases = [m.group(0) for m in _RECENT.finditer(question)] if recent else []
    parser = DateDataParser(languages=["en"], settings=settings)
    for phrase, _ in found:
        words = phrase.lower()
        year = _YEAR.search(words)
        relative = _RELATIVE.search(words)
        if not (year or relative) or re.fullmatch(r"\W*(now|today)\W*", words):
            continue
        data = parser.get_date_data(phrase)
        if data.date_obj is None:
            continue
        start = day_start(data.date_obj)
        period = data.period or "day"
        if year:
            lo, hi = _period(start, period)
        elif "yesterday" in words:  # and what was written about it since
            lo, hi = start, None
        elif "this" in words:
            if period == "week":
                lo = today - 6 * DAY
            elif period in ("month", "year"):
                lo = _period(start, period)[0]
            else:
                lo = today
            hi = None
        else:  # "last week", "3 days ago", "past year": since then
            lo, hi = start, None
        since, until = lo, hi
        phrases.append(phrase.strip())
        break  # the first date phrase decides; a question rarely names two
    if until is not None and until > end_of_day(as_of):
        until = None  # the as-of day bounds it anyway
    return TimeReading(since, until, recent, tuple(dict.fromkeys(phrases)))
