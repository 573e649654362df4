"""One document per article: copies of one article are merged, and nothing else is.

Two records are copies of one article only when their texts agree: the same words, or
one holds the other's whole text (an excerpt beside the full article, a page read both
as HTML and as Markdown). Only a copy may lend another a missing link, outlet, date or
topics. A shared link alone proves nothing: two files that name the same link but hold
different texts are two articles, each indexed with its own details (an outlet and date
shown beside a text must be that text's). Merges and shared links are reported by file.

A ``related:`` entry (title and excerpt of a linked article) is a pointer to the article
at its link: it is folded into the full article there, but lends it nothing unless
their texts agree. The same text in two files with different outlets or dates is two
publications of one story (a wire copy, a reprint): both are kept, and the answer shows
the story once with the other copies as "also reported by".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from retrieval.ingest.readers.fields import article_key
from retrieval.ingest.readers.report import Problem
from retrieval.types import Document, stable_hash

# A shorter text counts as held in a longer one only from this many words: a line such as
# "Sign up for our newsletter" may appear in any article.
MIN_CONTAINED_WORDS = 8
# Beyond this many records under one link, only identical texts are compared (comparing
# every pair for containment would be quadratic in a feed dump that gives every item the
# same home-page link).
MAX_CONTAINMENT_GROUP = 64
_WORD = re.compile(r"\w+")
_JSONL_LINE = re.compile(r"(.+) line \d+")  # a JSONL record's source (readers.formats.read_jsonl)
_FILLED = ("url", "outlet", "published")


def merge_documents(documents: Iterable[Document], problems: list[Problem]) -> tuple[list[Document], int]:
    """One document per article; returns (documents, n merged). See the module docstring.

    Of the copies of one article, the full one with the longest text is kept (a full
    article beats a related-list excerpt) and missing details are filled in from the
    other copies. Each merge and each shared link is added to ``problems`` as a warning
    naming the files.
    """
    groups: dict[str, list[Document]] = {}
    for doc in documents:
        groups.setdefault(doc.id, []).append(doc)
    merged = 0
    result: list[Document] = []
    used = set(groups)
    renamed: dict[tuple[str, str], str] = {}
    for group in groups.values():
        docs, n = _merge_group(group, problems, used, renamed)
        merged += n
        result.extend(docs)
    if renamed:
        # A related entry names the article it was listed in by id (and shares its file).
        result = [
            replace(d, parent_id=renamed[(d.parent_id, d.source)]) if (d.parent_id, d.source) in renamed else d
            for d in result
        ]
    unique, n = _merge_same_text(result, problems)
    return unique, merged + n


def words(text: str) -> str:
    """The text as lower-case words: what two copies of one article have in common."""
    return " ".join(_WORD.findall(text.lower()))


def same_text(a: str, b: str, contained: bool = True) -> bool:
    """Whether two normalised texts (:func:`words`) are one article's: equal, or (with
    ``contained``) the shorter, of at least ``MIN_CONTAINED_WORDS`` words, inside the other."""
    if a == b:
        return bool(a)
    if not contained:
        return False
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return short.count(" ") + 1 >= MIN_CONTAINED_WORDS and f" {short} " in f" {long} "


def _merge_group(
    group: list[Document], problems: list[Problem], used: set[str], renamed: dict[tuple[str, str], str]
) -> tuple[list[Document], int]:
    """The articles among records that share one id (one link, or one file name)."""
    if len(group) == 1:
        return group, 0
    contained = len(group) <= MAX_CONTAINMENT_GROUP
    # Full articles first, longest first: each cluster's first record is the one kept.
    # Of equal texts, the earliest published first (the original, whatever the file names).
    order = sorted(
        range(len(group)),
        key=lambda i: (group[i].parent_id is not None, -len(group[i].text), _published_key(group[i]), i),
    )
    clusters: list[tuple[str, list[Document]]] = []  # (the kept record's words, the copies)
    # Beyond MAX_CONTAINMENT_GROUP only equal texts join, so the clusters a record may join
    # are found by its words, not by comparing it with every cluster (a feed dump giving
    # 10,000 items one home-page link would be 50 million comparisons).
    by_words: dict[str, list[int]] = {}
    merged = 0
    for i in order:
        doc = group[i]
        key = words(doc.text)
        candidates = (
            (clusters[j] for j in by_words.get(key, ()))
            if not contained
            else (c for c in clusters if same_text(c[0], key))
        )
        # A copy whose outlet or date differs from any copy already there is another
        # publication of the text (two outlets giving one link): kept apart, shown once as
        # "also reported by". Checked against every copy, not the kept one only: a kept
        # record with no outlet would take one copy's outlet and another's date.
        home = next(
            (c for k, c in candidates if (key or k) and (doc.parent_id or all(_agree(m, doc) for m in c))), None
        )
        if home is not None:
            home.append(doc)
        elif doc.parent_id is not None and clusters:
            merged += 1  # a related entry: folded into the article at its link, lending it nothing
        else:
            by_words.setdefault(key, []).append(len(clusters))
            clusters.append((key, [doc]))
    docs: list[Document] = []
    first = clusters[0][1][0]
    for n, (_, members) in enumerate(clusters):
        primary = members[0]
        doc = _fill(primary, members, _FILLED)
        for other in members[1:]:
            merged += 1
            if other.parent_id is None:
                what = "link and text" if primary.url else "name and text"
                problems.append(Problem(other.source, f"same {what} as {primary.source}; indexed once", skipped=False))
        if n > 0:  # another article under the same link (clusters after the first are full articles)
            new_id = _new_id(doc, used)
            renamed[(doc.id, doc.source)] = new_id
            doc = replace(doc, id=new_id)
            problems.append(
                Problem(
                    doc.source,
                    f"has the same {'link' if doc.url else 'name'} as {first.source} but "
                    f"{'another outlet or date' if words(doc.text) == words(first.text) else 'another text'}; "
                    "indexed as a separate article, with its own outlet and date",
                    skipped=False,
                )
            )
        docs.append(doc)
    return docs, merged


def _merge_same_text(docs: list[Document], problems: list[Problem]) -> tuple[list[Document], int]:
    """One document per text saved twice under different names (different ids).

    Copies whose details agree (each outlet, date and link the same or missing in one) are
    one article saved twice: the one with a link, else the earliest published, is kept and
    the other's details fill its gaps. Copies whose details differ are two publications
    of the text and are both kept (shown once, as "also reported by")."""
    buckets: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        if doc.parent_id is None:
            buckets.setdefault(stable_hash(words(doc.text)), []).append(i)
    keep: dict[int, Document | None] = {}
    merged = 0
    for members in buckets.values():
        if len(members) == 1:
            continue
        members.sort(key=lambda i: _preference(docs[i], i))
        kept: list[int] = []
        for i in members:
            doc = docs[i]
            home = next((k for k in kept if _agree(keep[k], doc)), None)
            if home is None:
                kept.append(i)
                keep[i] = doc
                continue
            merged += 1
            keep[i] = None
            keep[home] = _fill(keep[home], [keep[home], doc], ("outlet", "published"))
            problems.append(Problem(doc.source, f"same text as {keep[home].source}; indexed once", skipped=False))
    return [keep.get(i, doc) for i, doc in enumerate(docs) if keep.get(i, doc) is not None], merged


def _published_key(doc: Document) -> str:
    return doc.published.isoformat() if doc.published else "~"  # undated after dated


def _preference(doc: Document, i: int) -> tuple:
    """Which copy of one text is kept: one with a link (its id is the link), then the
    earliest published (the original, not a reprint), then the most details."""
    details = sum(getattr(doc, name) is not None for name in _FILLED)
    published = doc.published.isoformat() if doc.published else "~"
    return (doc.url is None, published, -details, i)


def _agree(a: Document, b: Document) -> bool:
    """Whether two copies of one text can be one article: no detail differs."""
    if a.url and b.url and article_key(a.url) != article_key(b.url):
        return False
    if a.outlet and b.outlet and a.outlet.casefold() != b.outlet.casefold():
        return False
    return not (a.published and b.published and a.published != b.published)


def _fill(primary: Document, copies: Sequence[Document], names: Sequence[str]) -> Document:
    """``primary`` with its missing ``names`` and its topics taken from ``copies`` (copies
    of its own text only: see the module docstring)."""
    if len(copies) == 1:
        return primary
    filled = {}
    for name in names:
        if getattr(primary, name) is None:
            value = next((getattr(d, name) for d in copies if getattr(d, name) is not None), None)
            if value is not None:
                filled[name] = value
    topics = tuple(dict.fromkeys(t for d in copies for t in d.topics))
    if topics != primary.topics:
        filled["topics"] = topics
    return replace(primary, **filled) if filled else primary


def _new_id(doc: Document, used: set[str]) -> str:
    """A stable id for an article whose link another article also names (it keeps the
    link, not the link's id): from the link's id and where the article was read. Of a JSONL
    line, where is its file and title, not its line number: a line added above would give
    every article after it a new id (citations to them broken, all re-embedded)."""
    line = _JSONL_LINE.fullmatch(doc.source)
    new_id = stable_hash("same link", doc.id, f"{line.group(1)}#{doc.title}" if line else doc.source)
    if new_id in used:
        new_id = stable_hash("same link", doc.id, doc.source, words(doc.text))
    used.add(new_id)
    return new_id
