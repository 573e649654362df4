"""One document per article: copies that share a link or a text are merged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from retrieval.ingest.readers.report import Problem
from retrieval.types import Document, stable_hash


def merge_documents(documents: Iterable[Document], problems: list[Problem]) -> tuple[list[Document], int]:
    """One document per id (= per URL) and per identical text; returns (documents, n merged).

    The copy with the longest text (a full article beats a related-list excerpt) is kept
    and missing metadata is filled in from the others.
    """
    groups: dict[str, list[Document]] = {}
    for doc in documents:
        groups.setdefault(doc.id, []).append(doc)
    merged = 0
    result: list[Document] = []
    for group in groups.values():
        merged += len(group) - 1
        result.append(_merge_group(group))
    # The same article saved twice under different names (no URL to tell them apart).
    by_text: dict[str, Document] = {}
    unique: list[Document] = []
    for doc in result:
        key = stable_hash(" ".join(doc.text.split()).lower())
        kept = by_text.get(key)
        if kept is None:
            by_text[key] = doc
            unique.append(doc)
        elif doc.parent_id is None and kept.parent_id is None:
            merged += 1
            problems.append(Problem(doc.source, f"same text as {kept.source}; indexed once", skipped=False))
        else:
            unique.append(doc)
    return unique, merged


def _merge_group(group: list[Document]) -> Document:
    if len(group) == 1:
        return group[0]
    primary = max(group, key=lambda d: (d.parent_id is None, len(d.text)))
    filled = {}
    for name in ("url", "outlet", "published"):
        if getattr(primary, name) is None:
            filled[name] = next((getattr(d, name) for d in group if getattr(d, name) is not None), None)
    topics = tuple(dict.fromkeys(t for d in group for t in d.topics))
    return replace(primary, topics=topics, **filled)
