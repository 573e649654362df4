"""YAML front matter at the top of a Markdown or text article."""

from __future__ import annotations

import re
from typing import Any

from retrieval import yamlio
from retrieval.ingest.readers.report import UnreadableError

_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """(front matter mapping or None, body). Raises :class:`UnreadableError` if malformed."""
    if not re.match(r"---[ \t]*\r?\n", text):
        return None, text
    first_newline = text.index("\n") + 1
    end = _FRONT_MATTER_END.search(text, first_newline)
    if end is None:
        raise UnreadableError("front matter starts with --- but is never closed")
    import yaml

    try:
        data = yamlio.load(text[first_newline : end.start()])
    except yaml.YAMLError as exc:
        raise UnreadableError(f"front matter is not valid YAML: {yamlio.problem(exc)}") from None
    except RecursionError:
        raise UnreadableError("front matter is nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UnreadableError(f"front matter is a YAML {type(data).__name__}, not a mapping of fields")
    body = text[end.end() :]
    return data, body.lstrip("\r\n")
