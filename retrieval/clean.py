"""Turn raw article text into clean reading text.

Repairs mojibake (ftfy), normalises whitespace, and drops site boilerplate by the
line rules in :class:`~retrieval.config.CleanSettings`. Paragraphs are separated by a
blank line in the output; a single newline separates lines that are not one paragraph
(headings, captions), so the chunker never joins them into one sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .config import CleanSettings

_SPACES = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# `business.”The coalition`: a sentence end glued to the next sentence by a lost space.
_GLUED_SENTENCE = re.compile(r"(?<=[a-z0-9][.!?][”\"’])(?=[A-Z])")
_NAME = re.compile(r"^([A-Z][\w'’.-]+(?: [A-Z][\w'’.-]+){1,3})\b")
# Share of the text that must precede a closing-appeal line before it may cut the rest.
_CUT_MIN_POSITION = 0.3


class Cleaner:
    """Cleans text by the configured rules; compiled once, used for every document."""

    def __init__(self, settings: CleanSettings | None = None) -> None:
        settings = settings or CleanSettings()
        self.fix_mojibake = settings.fix_mojibake
        self._drop = [re.compile(p) for p in settings.drop_lines]
        self._cut = [re.compile(p) for p in settings.cut_from]

    def fix(self, text: str) -> str:
        """Repair encoding damage and normalise whitespace within one line of metadata."""
        return _SPACES.sub(" ", self._repair(text).replace("\n", " ")).strip()

    def clean(self, text: str) -> str:
        """Clean a whole article body."""
        text = self._repair(text)
        lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
        lines = self._drop_boilerplate(lines)
        lines = self._cut_appeal(lines)
        return _join_paragraphs(lines)

    def _repair(self, text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self.fix_mojibake:
            import ftfy

            # Keep the publisher's curly quotes: the answer is the source's own words.
            text = ftfy.fix_text(text, uncurl_quotes=False, fix_character_width=False)
        text = _INVISIBLE.sub("", text)
        text = _CONTROL.sub(" ", text)
        return _GLUED_SENTENCE.sub(" ", text)

    def _is_boilerplate(self, line: str) -> bool:
        return any(p.search(line) for p in self._drop)

    def _drop_boilerplate(self, lines: list[str]) -> list[str]:
        kept: list[str] = []
        names: set[str] = set()
        for line in lines:
            if line and self._is_boilerplate(line):
                # A dropped byline/bio names the author; a bare line with that name
                # elsewhere ("Gordon Gottsegen") is part of the same byline block.
                match = _NAME.match(line)
                if match:
                    names.add(match.group(1))
                continue
            kept.append(line)
        if names:
            kept = [line for line in kept if line not in names]
        return kept

    def _cut_appeal(self, lines: list[str]) -> list[str]:
        total = sum(len(line) + 1 for line in lines)
        seen = 0
        for i, line in enumerate(lines):
            if line and seen >= _CUT_MIN_POSITION * total and any(p.search(line) for p in self._cut):
                return lines[:i]
            seen += len(line) + 1
        return lines


def _join_paragraphs(lines: Iterable[str]) -> str:
    """Blank-line separated blocks become paragraphs; runs of blank lines collapse to one."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    paragraphs = []
    for block in blocks:
        if not block:
            continue
        merged = [block[0]]
        for line in block[1:]:
            # Hard-wrapped prose (line ends mid-sentence, next starts lower case) is one line.
            if not merged[-1].endswith((".", "!", "?", ":", "”", '"')) and line[:1].islower():
                merged[-1] += " " + line
            else:
                merged.append(line)
        paragraphs.append("\n".join(merged))
    return "\n\n".join(paragraphs)


def markdown_to_text(markdown: str) -> str:
    """Plain text of a Markdown body: markup and link targets dropped, blocks kept apart."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(markdown)
    blocks: list[str] = []
    for token in tokens:
        if token.type == "inline":
            parts = []
            for child in token.children or []:
                if child.type in ("text", "code_inline"):
                    parts.append(child.content)
                elif child.type in ("softbreak",):
                    parts.append(" ")
                elif child.type == "hardbreak":
                    parts.append("\n")
            blocks.append("".join(parts))
        elif token.type in ("code_block", "fence"):
            blocks.append(token.content.rstrip("\n"))
    return "\n\n".join(b for b in blocks if b.strip())
