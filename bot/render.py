"""Answer -> Discord message: pure functions, no network, tested on exact output.

Everything taken from articles is escaped (markdown and mentions), so article text can
never ping anyone or change formatting; replies are also sent with
``AllowedMentions.none()`` as a second guard. Every Discord limit is respected; long
passages are trimmed at sentence boundaries around the answer sentence, with "…".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import discord

from retrieval.ingest.chunking import sentence_spans
from retrieval.query.highlight import text_fragment_url
from retrieval.types import Answer, Hit, newer_label, reported_by

MESSAGE_LIMIT = 2000
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
TITLE_LIMIT = 256
FOOTER_LIMIT = 2048
TOTAL_EMBED_LIMIT = 6000
EMBEDS_LIMIT = 10
PASSAGE_BUDGET = 900  # characters of passage per embed in a normal reply
ELLIPSIS = "…"
COLOUR_ANSWER = 0x2B8A3E
COLOUR_WEAK = 0x868E96

_MENTIONISH = re.compile(r"<(?=[@#/]|a?:|t:)")


def escape(text: str) -> str:
    """Article text made inert: markdown escaped, mentions and @everyone defused."""
    text = discord.utils.escape_markdown(text, as_needed=False)
    text = discord.utils.escape_mentions(text)
    return _MENTIONISH.sub(r"\\<", text)


def _cut_words(text: str, budget: int) -> str:
    """At most ``budget`` characters of ``text`` ending on a whole word, plus "…"."""
    if len(text) <= budget:
        return text
    cut = text[: max(0, budget - 1)]
    space = cut.rfind(" ")
    if space > budget // 3:
        cut = cut[:space]
    cut = cut.rstrip()
    # Never leave a dangling escape backslash at the end.
    while cut.endswith("\\"):
        cut = cut[:-1]
    return cut + ELLIPSIS


def passage_markdown(hit: Hit, budget: int = PASSAGE_BUDGET) -> str:
    """The passage, escaped, answer sentence in bold, trimmed to ``budget`` characters."""
    text = hit.text
    spans = sentence_spans(text) or [(0, len(text))]
    hl = None
    if hit.highlight_start is not None:
        hl = next((i for i, (s, e) in enumerate(spans) if s <= hit.highlight_start < e), None)
    pieces = []
    for i, (s, e) in enumerate(spans):
        body = escape(" ".join(text[s:e].split()))
        pieces.append(f"**{body}**" if i == hl else body)
    centre = hl if hl is not None else 0
    if len(pieces[centre]) > budget:
        inner = pieces[centre].strip("*") if centre == hl else pieces[centre]
        cut = _cut_words(inner, budget - (4 if centre == hl else 0) - 2)
        core = f"**{cut}**" if centre == hl else cut
        prefix = ELLIPSIS + " " if centre > 0 else ""
        return prefix + core
    lo = hi = centre
    length = len(pieces[centre])
    # Grow around the answer sentence, alternating after/before, while it fits.
    while True:
        grown = False
        for side in (1, -1):
            j = hi + 1 if side == 1 else lo - 1
            if 0 <= j < len(pieces) and length + 1 + len(pieces[j]) + 4 <= budget:
                length += 1 + len(pieces[j])
                if side == 1:
                    hi = j
                else:
                    lo = j
                grown = True
        if not grown:
            break
    out = " ".join(pieces[lo : hi + 1])
    if lo > 0:
        out = ELLIPSIS + " " + out
    if hi < len(pieces) - 1:
        out = out + " " + ELLIPSIS
    return out


def relevance_label(hit: Hit, answered: bool) -> str:
    """The figure that agrees with the order and its word, as the terminal shows them
    (retrieval.query.strength); a result below the answering threshold says so."""
    text = f"{hit.label or 'weak'} ({hit.strength:.2f})"
    if not answered:
        return f"{text}, low confidence"
    if hit.label != "strong":
        return f"{text}, below the answering threshold"
    return text


def _footer(hit: Hit, answered: bool) -> str:
    doc = hit.document
    parts = [f"#{hit.rank}"]
    if doc.outlet:
        parts.append(doc.outlet)
    if doc.published:
        parts.append(doc.published.date().isoformat())
    if not doc.url:
        parts.append(f"source: {doc.source}")
    parts.append(relevance_label(hit, answered))
    if hit.more_in_document:
        n = hit.more_in_document
        parts.append(f"{n} more passage{'s' if n > 1 else ''} from this article: Read in full")
    return _cut_words(" · ".join(parts), FOOTER_LIMIT)


def hit_embed(hit: Hit, answered: bool, budget: int = PASSAGE_BUDGET) -> discord.Embed:
    doc = hit.document
    url = None
    if doc.url:
        url = text_fragment_url(doc.url, hit.highlight) if hit.highlight else doc.url
    embed = discord.Embed(
        title=_cut_words(escape(doc.title), TITLE_LIMIT),
        url=url,
        description=passage_markdown(hit, min(budget, DESCRIPTION_LIMIT)),
        colour=COLOUR_ANSWER if answered else COLOUR_WEAK,
    )
    embed.set_footer(text=_footer(hit, answered))
    if hit.duplicates:
        names = escape(reported_by(hit.duplicates))
        embed.add_field(name="Also reported by", value=_cut_words(names, FIELD_LIMIT), inline=False)
    if hit.newer is not None:
        value = newer_markdown(hit.newer)
        if hit.newer_rank is not None:
            value += f" (#{hit.newer_rank})"
        embed.add_field(name="Newer coverage", value=value, inline=False)
    return embed


def newer_markdown(doc) -> str:
    """ "Outlet, date" of the newer article, linked when it has a link."""
    label = _cut_words(escape(newer_label(doc)), 200)
    if doc.url and len(doc.url) < FIELD_LIMIT - 250 and ")" not in doc.url:
        return f"[{label}]({doc.url})"
    return label


def _searching(answer: Answer, question: str) -> str:
    """The question, with how it was searched when time words were read from it."""
    if not answer.understood:
        return question
    return f"{question}\n*Searching: {_cut_words(escape(answer.understood), 300)}*"


@dataclass
class Reply:
    content: str
    embeds: list[discord.Embed] = field(default_factory=list)

    def total_embed_chars(self) -> int:
        return sum(len(e) for e in self.embeds)


def render_answer(answer: Answer, budget: int = PASSAGE_BUDGET, asked: str | None = None) -> Reply:
    """One embed per article; hits that share a link become fields of one embed. ``asked``:
    the follow-up as the member wrote it, when ``answer.question`` is how it was understood."""
    question = _cut_words(escape(answer.question), 300)
    if asked is not None and asked != answer.question:
        question = f"{_cut_words(escape(asked), 300)}\n*Searching: {question}*"
    question = _searching(answer, question)
    if not answer.hits and answer.excluded:
        return Reply(
            f"**Q:** {question}\nNo article is within the filters set ({escape(answer.excluded)}): nothing was searched."
        )
    if not answer.hits:
        return Reply(f"**Q:** {question}\nI couldn't find this in the collection.")
    if answer.answered:
        content = f"**Q:** {question}"
    else:
        content = f"**Q:** {question}\nI couldn't find this in the collection. The closest passages, low confidence:"
    hits = list(answer.hits)[:EMBEDS_LIMIT]
    per_embed = min(budget, (TOTAL_EMBED_LIMIT - 200 * len(hits) - 100) // max(1, len(hits)))
    embeds: list[discord.Embed] = []
    by_url: dict[str, discord.Embed] = {}
    for hit in hits:
        base_url = hit.document.url
        if base_url and base_url in by_url:
            # Discord merges embeds that share a URL; keep the passage as a field instead.
            by_url[base_url].add_field(
                name=f"#{hit.rank} another passage",
                value=passage_markdown(hit, min(per_embed, FIELD_LIMIT)),
                inline=False,
            )
            continue
        embed = hit_embed(hit, answer.answered, per_embed)
        embeds.append(embed)
        if base_url:
            by_url[base_url] = embed
    reply = Reply(_cut_words(content, MESSAGE_LIMIT), embeds)
    while reply.total_embed_chars() > TOTAL_EMBED_LIMIT and reply.embeds:
        reply.embeds.pop()
    return reply


def render_full_articles(answer: Answer) -> list[Reply]:
    """The page's articles, one reply each, as they were indexed (cleaned text, as far as
    one Discord message allows), for "Read in full"; the footer says where the text was cut."""
    replies = []
    seen: set[str] = set()
    for hit in list(answer.hits)[:EMBEDS_LIMIT]:
        doc = hit.document
        if doc.id in seen:
            continue
        seen.add(doc.id)
        meta = [x for x in (doc.outlet, doc.published.date().isoformat() if doc.published else None) if x]
        if not doc.url:
            meta.append(f"source: {doc.source}")
        footer = _cut_words(" · ".join(meta), 500)
        title = _cut_words(escape(doc.title), TITLE_LIMIT)
        budget = TOTAL_EMBED_LIMIT - len(title) - len(footer) - 100
        text = escape(doc.text)
        whole = len(text) <= budget
        pieces = _pieces(text if whole else _cut_words(text, budget), DESCRIPTION_LIMIT)
        embeds = [discord.Embed(description=piece, colour=COLOUR_ANSWER) for piece in pieces]
        embeds[0].title, embeds[0].url = title, doc.url
        cut = "the whole article" if whole else ("cut here; the rest at the link" if doc.url else "cut here")
        embeds[-1].set_footer(text=f"{footer} · {cut}" if footer else cut)
        replies.append(Reply(f"#{hit.rank} in full:", embeds[:EMBEDS_LIMIT]))
    return replies


def _pieces(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, split between paragraphs where it can."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        while cut > 1 and text[:cut].endswith("\\"):  # never split an escape from what it escapes
            cut -= 1
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text or not pieces else pieces


TIMELINE_PAGE = 8  # stories per timeline message; "More" shows the next ones
TIMELINE_SENTENCE = 300


def render_timeline(answer: Answer, offset: int = 0, per_page: int = TIMELINE_PAGE) -> Reply:
    """One embed: the page of the timeline from ``offset``, each story dated, linked, its
    answering sentence quoted and its wire copies named, oldest first."""
    question = _searching(answer, _cut_words(escape(answer.question), 300))
    page = list(answer.hits)[offset : offset + per_page]
    if not page:
        text = "No passage in the collection answers this; no timeline." if not offset else "No more stories."
        return Reply(f"**Timeline:** {question}\n{text}")
    lines = []
    for hit in page:
        doc = hit.document
        when = doc.published.date().isoformat() if doc.published else "undated"
        title = _cut_words(escape(doc.title), 150)
        if doc.url and ")" not in doc.url and len(doc.url) < 500:
            title = f"[{title}]({doc.url})"
        outlet = f" · {_cut_words(escape(doc.outlet), 60)}" if doc.outlet else ""
        entry = f"**{when}**{outlet} — {title}\n> {_cut_words(escape(' '.join((hit.highlight or hit.text).split())), TIMELINE_SENTENCE)}"
        if hit.duplicates:
            entry += f"\n*also reported by {_cut_words(escape(reported_by(hit.duplicates)), 200)}*"
        lines.append(entry)
    description = ""
    for entry in lines:  # whole entries only, within Discord's limit
        if len(description) + len(entry) + 2 > DESCRIPTION_LIMIT - 10:
            break
        description = f"{description}\n\n{entry}" if description else entry
    total = len(answer.hits)
    embed = discord.Embed(title=_cut_words(f"Timeline · {total} stor{'y' if total == 1 else 'ies'}", TITLE_LIMIT))
    embed.description = description
    embed.colour = COLOUR_ANSWER
    shown_to = offset + len(page)
    embed.set_footer(text=f"{offset + 1}–{shown_to} of {total}, oldest first")
    return Reply(_cut_words(f"**Timeline:** {question}", MESSAGE_LIMIT), [embed])
