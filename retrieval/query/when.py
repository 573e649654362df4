"""Time in questions and filters: "as of" a day, "last week", "in 2018", "latest".

Dates are read by dateparser (installed with trafilatura), never by hand-written rules;
this module only decides what a phrase dateparser found *means* for a search: a range of
publication dates (a filter) or a leaning towards recent articles (the recency prior,
``retrieval.query.recency``).

Every bound is a UTC datetime. ``until`` bounds are exclusive: a day given as ``until``
means that whole day, so it becomes the start of the next day. A month or a year given as
a filter means all of it too: ``--since 2022`` is from 2022-01-01, ``--until 2020`` through
2020-12-31, ``--as-of 2020-06`` as on 2020-06-30.

In a question, the word before a date says which side of it is searched: "before 2022"
(until 2021-12-31), "after 2020" (since 2021-01-01), "since 2021", "from 2019 on",
"between 2019 and 2021" / "from 2019 to 2021" (2019-01-01 to 2021-12-31).
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
# The latest bound a filter's date may set: the day (or year) after an as-of day must
# still be a datetime, which ends in 9999.
_TOO_LATE = datetime(9999, 1, 1, tzinfo=UTC)
_WHEN_HINT = "use YYYY-MM-DD, YYYY-MM, YYYY, 7d or words such as 'last week'"
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
# The words that put a date at one end of the range searched ("before 2022"). Whole words
# only: "aftermath", "sincere", "untill" are not them.
_SIDE = re.compile(r"(?<![\w-])(before|prior\s+to|until|till|til|after|since|between|from)\s+", re.IGNORECASE)
_BEFORE = {"before", "prior to", "until", "till", "til"}
# What joins the two ends of a range, and what makes "from X" open-ended.
_AND = re.compile(r"\s*(?:,\s*)?(?:and|to|until|till|through|thru|-|–|—)\s+", re.IGNORECASE)
_ONWARD = re.compile(r"\s*(?:on|onwards?|forwards?|and\s+(?:on|after|later))\b", re.IGNORECASE)
_NOW_END = re.compile(r"(?:now|today|the\s+present(?:\s+day)?|present|date)\b", re.IGNORECASE)
# A side word with a date that could not be read exactly ("before the end of 2020", "after
# the 2020 election") is no reason to search that date alone: such a phrase sets no range.
_SIDE_NEAR = re.compile(
    r"(?<![\w-])(?:before|prior\s+to|until|till|til|after|since|between)\s+(?:\S+\s+){0,3}$", re.IGNORECASE
)
_SIDE_IN = re.compile(r"(?<![\w-])(?:before|prior\s+to|until|till|til|after|since|between)(?![\w-])", re.IGNORECASE)
_MONTHS = {m.lower() for m in (*calendar.month_name[1:], *calendar.month_abbr[1:])} | {"sept"}
_PUNCT = ".,;:!?)]}\"'”’»"
# Words no date phrase holds: where one ends.
_JOINS = {"and", "or", "but", "to", "through", "thru", "until", "till", "til", "-", "–", "—", "on", "onward", "onwards"}
_JOINS |= {"forward", "forwards", "before", "after", "since", "from", "between", "prior"}
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
    if "this" in words:
        if period == "week":
            return today - 6 * DAY, None
        if period in ("month", "year"):
            return _period(start, period)[0], None
        return today, None
    return start, (start + DAY if period == "day" else None)


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
        if not (_YEAR.search(phrase) or _RELATIVE.search(phrase)):
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


def _end_at(question: str, at: int, parser, today: datetime):
    """The far end of a range ("... and 2022", "... to now"): (its start, its exclusive end
    or None when it runs up to today, where it ends), or None."""
    now = _NOW_END.match(question, at)
    if now:
        return today, None, now.end()
    return _date_at(question, at, parser, today)


def _sided(question: str, parser, today: datetime) -> list[tuple[int, int, datetime | None, datetime | None]]:
    """The ranges side words set in ``question``: (start, end of the words, since, until)."""
    found = []
    for side in list(_SIDE.finditer(question))[:_MAX_SIDES]:
        word = re.sub(r"\s+", " ", side.group(1).lower())
        first = _date_at(question, side.end(), parser, today)
        if first is None:
            continue
        lo, hi, end = first
        if word in _BEFORE:
            found.append((side.start(), end, None, lo))
            continue
        if word == "since":
            found.append((side.start(), end, lo, None))
            continue
        if word == "after":
            found.append((side.start(), end, hi or lo, None))
            continue
        if word == "from" and (onward := _ONWARD.match(question, end)):
            found.append((side.start(), onward.end(), lo, None))
            continue
        joined = _AND.match(question, end)
        if not joined or (word == "from" and joined.group(0).strip().lower() == "and"):
            continue  # "from 2020" alone is 2020; "between 2020" alone is nothing
        last = _end_at(question, joined.end(), parser, today)
        if last is None:
            continue
        last_lo, last_hi, last_end = last
        phrase = question[side.start() : last_end]
        if lo >= (last_hi or today + DAY) or last_lo < lo:
            raise QuestionError(f"In “{phrase.strip()}” the start must be earlier than the end.")
        found.append((side.start(), last_end, lo, last_hi))
    return found


def _kind(since: datetime | None, until: datetime | None) -> str:
    return "range" if since and until else "since" if since else "until"


def _joined(question: str, sided: list) -> tuple[int, int, datetime | None, datetime | None] | None:
    """The first side-word range, with the one right after it when that closes it: "after
    2020 and before 2023"."""
    if not sided:
        return None
    start, end, since, until = sided[0]
    if len(sided) > 1:
        n_start, n_end, n_since, n_until = sided[1]
        kinds = {_kind(since, until), _kind(n_since, n_until)}
        if kinds == {"since", "until"} and re.fullmatch(r"\s*,?\s*(?:and|but)?\s*", question[end:n_start], re.I):
            since, until, end = since or n_since, until or n_until, n_end
            if since >= until:
                phrase = question[start:end].strip()
                raise QuestionError(f"In “{phrase}” the start must be earlier than the end.")
    return start, end, since, until


def read_question(question: str, as_of: datetime) -> TimeReading:
    """The time a question asks about, relative to ``as_of`` (the day taken as today).

    "in 2018", "in May 2019", "on March 3, 2020": that period. "last week", "2 months ago",
    "last year": since then. "this week" (the last seven days), "this month", "this year":
    since the period began. "yesterday": since that day. "before 2022": until 2021-12-31;
    "after 2020": since 2021-01-01; "since 2021", "from 2021 on": since 2021-01-01; "between
    2019 and 2021", "from 2019 to 2021": 2019-01-01 to 2021-12-31 (a reversed range is a
    :class:`QuestionError`). "latest", "currently", "now", "today": no filter, the recency
    prior counts for more. The first date phrase decides; a question rarely names two."""
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
        since, until = lo, hi
        phrases.append(phrase.strip())
        sided = None
        break
    if sided is not None:
        start, end, since, until = sided
        phrases.append(question[start:end].strip())
    if until is not None and until > end_of_day(as_of):
        until = None  # the as-of day bounds it anyway
    return TimeReading(since, until, recent, tuple(dict.fromkeys(phrases)))
