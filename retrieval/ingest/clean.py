"""Turn raw article text into clean reading text.

Repairs mojibake (ftfy), normalises whitespace, and drops site boilerplate by the
line rules in :class:`~retrieval.config.CleanSettings`. Rules that could also match a
story's own prose (bylines, bios) only apply where boilerplate sits: at an article's
edges, and never to all of its text. Paragraphs are separated by a
blank line in the output; a single newline separates lines that are not one paragraph
(headings, captions), so the chunker never joins them into one sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from retrieval.config import CleanSettings

_SPACES = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# `business.”The coalition`: a sentence end glued to the next sentence by a lost space.
_GLUED_SENTENCE = re.compile(r"(?<=[a-z0-9][.!?][”\"’])(?=[A-Z])")
_NAME = re.compile(r"^([A-Z][\w'’.-]+(?: [A-Z][\w'’.-]+){1,3})\b")
# Share of the text that must precede a closing-appeal line before it may cut the rest.
_CUT_MIN_POSITION = 0.3
# Bylines and bios sit among an article's first or last lines (title, dek, byline, bio,
# reading time, photo, credit come before the story on most sites).
_EDGE_LINES = 8
# A caption is a line of at most this many words, directly above its photo credit.
_CAPTION_WORDS = 40


class Cleaner:
    """Cleans text by the configured rules; compiled once, used for every document."""

    def __init__(self, settings: CleanSettings | None = None) -> None:
        settings = settings or CleanSettings()
        self.fix_mojibake = settings.fix_mojibake
        self._drop = [re.compile(p) for p in settings.drop_lines]
        self._credit = [re.compile(p) for p in settings.credit_lines]
        self._byline = [re.compile(p) for p in settings.byline_lines]
        self._bio = [re.compile(p) for p in settings.bio_sentences]
        self._cut = [re.compile(p) for p in settings.cut_from]

    def fix(self, text: str) -> str:
        """Repair encoding damage and normalise whitespace within one line of metadata."""
        return _SPACES.sub(" ", self._repair(text).replace("\n", " ")).strip()

    def clean(self, text: str) -> str:
        """Clean a whole article body."""
        text = self._repair(text)
        lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
        lines = self._drop_boilerplate(lines)
        lines = self._drop_credits(lines)
        lines = self._drop_bylines(lines)
        lines = self._cut_appeal(lines)
        return self.trim_bio(_join_paragraphs(lines))

    def trim_bio(self, text: str) -> str:
        """``text`` without a stray author-bio sentence at its start or end (also used on
        excerpts, which are not cleaned line by line)."""
        if not self._bio or not text:
            return text
        from retrieval.ingest.chunking import sentence_spans

        spans = sentence_spans(text)
        if len(spans) < 2:
            return text
        (a, b), (last_a, last_b) = spans[0], spans[-1]
        if self._is_bio(text[a:b]):
            text = text[spans[1][0] :]
            offset = spans[1][0]
            last_a, last_b = last_a - offset, last_b - offset
        if len(spans) > 2 and self._is_bio(text[last_a:last_b]):
            text = text[:last_a].rstrip()
        return text

    def _is_bio(self, sentence: str) -> bool:
        return any(p.search(sentence.strip()) for p in self._bio)

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
        return [line for line in lines if not (line and self._is_boilerplate(line))]

    def _drop_credits(self, lines: list[str]) -> list[str]:
        drop: set[int] = set()
        for i, line in enumerate(lines):
            if not (line and any(p.search(line) for p in self._credit)):
                continue
            drop.add(i)
            # The caption: the nearest line above (blank lines between), if it is short.
            j = i - 1
            while j >= 0 and not lines[j]:
                j -= 1
            if j > 0 and j not in drop and len(lines[j].split()) <= _CAPTION_WORDS:
                drop.add(j)
        return [line for i, line in enumerate(lines) if i not in drop]

    def _drop_bylines(self, lines: list[str]) -> list[str]:
        filled = [i for i, line in enumerate(lines) if line]
        edges = set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:])
        drop: set[int] = set()
        names: set[str] = set()
        for i in edges:
            if any(p.search(lines[i]) for p in self._byline):
                drop.add(i)
                # A dropped byline/bio names the author; a bare line with that name
                # nearby ("Gordon Gottsegen") is part of the same byline block.
                match = _NAME.match(lines[i])
                if match:
                    names.add(match.group(1))
        drop |= {i for i in edges if lines[i] in names}
        if len(drop) == len(filled):
            return lines  # all the text: a story about a journalist, not a byline
        return [line for i, line in enumerate(lines) if i not in drop]

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
