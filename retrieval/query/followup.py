"""Follow-up questions: "What about Google?" after "Did Amazon stop selling facial
recognition to police?" is searched as "Google … stop selling facial recognition police".

The follow-up keeps all of its own words and borrows the content words of the question
before it that it does not repeat. When the follow-up names someone or something of its
own (a capitalised word), the names of the question before it are left out: it asks the
same thing about someone else. The searched text is shown to the member ("Searching: …"),
so a wrong reading is visible. The question vector mixes the follow-up's own vector with
the searched text's (``bot.followup_weight``, measured on data/followups.yaml).
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_][\w’'\-.]*[^\W_]|[^\W_]", re.UNICODE)
_FILLER = re.compile(r"^\s*(?:(?:and|but|so|ok|okay|then)[\s,]+)?(?:what|how)\s+about\s+", re.IGNORECASE)
_STOPWORDS_TEXT = """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you
    your yours yourself yourselves also say said says tell told ok okay anyway yes whose might may must
    shall let please show give list find explain describe anyone anything someone something else others
    everyone everything nobody nothing"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _is_name(word: str) -> bool:
    return word[:1].isupper() and word.lower() not in STOPWORDS


def understood(previous: str, followup: str) -> str:
    """The follow-up as searched: its own words, then the content words of ``previous`` it
    does not repeat (without ``previous``'s names when it brings names of its own)."""
    own = _FILLER.sub("", followup).strip().rstrip("?!.").strip() or followup.strip()
    own_words = {w.lower() for w in _words(own)}
    replaces_names = any(_is_name(w) for w in _words(own))
    carried: list[str] = []
    for word in _words(previous):
        low = word.lower()
        if low in STOPWORDS or low in own_words or low in (c.lower() for c in carried):
            continue
        if replaces_names and _is_name(word):
            continue
        carried.append(word)
    return f"{own} … {' '.join(carried)}" if carried else own
