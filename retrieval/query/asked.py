"""What kind of thing a question asks for, and whether a sentence holds one.

"How many…" asks for a number, "When…" for a time, "Who…" or "Which companies…" for a
name. A sentence that answers holds a thing of that kind that the question does not
already say: a number, a date, a capitalised name. Cheap surface checks, English only
(as the BM25 side is); used to choose the sentence shown in bold (docs/quality.md).
"""

from __future__ import annotations

import re

from retrieval.store.lexical import fold

NUMBER, TIME, NAME = "number", "time", "name"

_KINDS = (
    "person|people|man|woman|men|women|company|companies|firm|firms|country|countries|city|cities|"
    "state|states|nation|group|groups|organi[sz]ations?|agency|agencies|party|team|artist|singer|"
    "actor|actress|author|writer|band|brand|leader|official|officials|president|senator|lawmaker|"
    "athlete|player|island|region|province|county|town|university|school|network|platform|app"
)
_ASKS = (
    (
        NUMBER,
        re.compile(
            r"^\W*how\s+(many|much|long|old|far|big|large|often|tall|high)\b|"
            r"\bwhat\s+(percentage|percent|number|share|amount|proportion|fraction)\b",
            re.I,
        ),
    ),
    (TIME, re.compile(r"^\W*when\b|\b(what|which|in\s+what)\s+(year|date|day|month|decade|century)\b", re.I)),
    (NAME, re.compile(r"^\W*(who|whom|whose|where)\b|\b(which|what|this|these)\s+(" + _KINDS + r")\b", re.I)),
)
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|"
    r"hundreds?|thousands?|millions?|billions?|trillions?|half|third|quarter)\b",
    re.I,
)
_TIME = re.compile(
    r"\b(1[5-9]\d\d|20\d\d)\b|\b(january|february|march|april|may|june|july|august|september|"
    r"october|november|december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday|yesterday|today|tonight|tomorrow)\b|"
    r"\b(last|this|next)\s+(week|month|year|spring|summer|autumn|fall|winter)\b",
    re.I,
)
_CAPITALISED = re.compile(r"(?<![\w'’.-])([^\W\d_a-z][\w'’&.-]*)")
_WORD = re.compile(r"[\w'’]+")


def asked_kind(question: str) -> str | None:
    """``NUMBER``, ``TIME`` or ``NAME`` when the question asks for one, else None."""
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return kind
    return None


def holds(sentence: str, kind: str | None, question: str) -> bool:
    """Whether ``sentence`` holds a thing of ``kind`` that ``question`` does not say."""
    if kind is None:
        return False
    said = {fold(w.lower()) for w in _WORD.findall(question)}  # "Ozer" asked says "Özer"
    if kind == NUMBER:
        return any(m.group().lower().rstrip(".,") not in said for m in _NUMBER.finditer(sentence))
    if kind == TIME:
        return any(m.group().lower() not in said for m in _TIME.finditer(sentence))
    words = _CAPITALISED.finditer(sentence)
    for m in words:
        if not m.group()[0].isupper() or m.start() == len(sentence) - len(sentence.lstrip()):
            continue  # not a name, or the sentence's first word (capitalised anyway)
        word = fold(m.group().rstrip(".'’").lower())
        if word and word not in said:
            return True
    return False
