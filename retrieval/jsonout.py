"""The JSON objects of answers and of the collection, as every adapter gives them.

`sourced ask --json` and `sourced sources --json` print them, and the web desk's
``/api/ask`` and ``/api/sources`` answer with them, so a script gets the same object
whichever way it asks.
"""

from __future__ import annotations

from typing import Any


def _date(value) -> str | None:
    return value.isoformat() if value else None


def hit_json(hit) -> dict[str, Any]:
    from retrieval.query.highlight import text_fragment_url

    doc = hit.document
    return {
        "rank": hit.rank,
        "score": round(hit.score, 4),
        "similarity": round(hit.similarity, 4),
        "sentence_similarity": round(hit.sentence_similarity, 4),
        "strength": round(hit.strength, 4),
        "label": hit.label,
        "text": hit.text,
        "highlight": hit.highlight,
        "highlight_start": hit.highlight_start,
        "highlight_end": hit.highlight_end,
        "title": doc.title,
        "outlet": doc.outlet,
        "published": _date(doc.published),
        "url": doc.url,
        "url_highlight": text_fragment_url(doc.url, hit.highlight) if doc.url and hit.highlight else None,
        "source": doc.source,
        "doc_id": doc.id,
        "more_in_document": hit.more_in_document,
        "duplicates": [
            {"title": d.title, "url": d.url, "outlet": d.outlet, "published": _date(d.published), "source": d.source}
            for d in hit.duplicates
        ],
        "newer": _newer(hit.newer, hit.newer_rank),
    }


def _newer(doc, rank: int | None = None) -> dict[str, Any] | None:
    """The article published after the hit's that also answers ("newer coverage"), with
    the rank it is shown at in the same answer (null when it is not shown)."""
    if doc is None:
        return None
    return {
        "rank": rank,
        "title": doc.title,
        "url": doc.url,
        "outlet": doc.outlet,
        "published": _date(doc.published),
        "source": doc.source,
    }


def answer_json(answer) -> dict[str, Any]:
    """An :class:`~retrieval.types.Answer` as `sourced ask --json` prints it."""
    return {
        "question": answer.question,
        "answered": answer.answered,
        "confidence": round(answer.confidence, 4),
        # How likely what is shown answers (the answer model's probability), or null.
        "support": None if answer.support is None else round(answer.support, 4),
        # What decided `answered`: "answer model", "names shown", "min_score", "re-ranker".
        "answered_by": answer.decided_by,
        "hits": [hit_json(h) for h in answer.hits],
        "took_ms": round(answer.took_ms, 2),
        "as_of": _date(answer.as_of.date()) if answer.as_of else None,
        "since": _date(answer.since),
        "until": _date(answer.until),  # exclusive: the first moment not searched
        "understood": answer.understood,
        # The dates the question named, and whether they were searched ("searched": false:
        # nothing in them answered, and since/until above are what was searched instead).
        # No article is within the filters (dates, outlet, source, as-of): nothing was searched.
        "excluded": answer.excluded,
        "question_dates": None
        if answer.question_dates is None
        else {
            "since": _date(answer.question_dates[0]),
            "until": _date(answer.question_dates[1]),
            "searched": answer.question_dates_searched,
        },
    }


def collection_json(sources, articles) -> dict[str, Any]:
    """What ``QueryService.collection()`` returns, as `sourced sources --json` prints it."""
    return {
        "sources": [
            {
                "path": s.key,
                "kind": s.kind,
                "articles": s.articles,
                "added": s.added,
                "last_sync": s.last_sync,
                "problem": s.problem,
            }
            for s in sources
        ],
        "articles": [
            {
                "title": doc.title,
                "url": doc.url,
                "outlet": doc.outlet,
                "published": _date(doc.published),
                "source": origin,
                "file": doc.source,
                "doc_id": doc.id,
            }
            for doc, origin in articles
        ],
    }
