"""Split documents into chunks of whole sentences, sized in model tokens.

Sentences come from blingfire (a compiled, rule-based splitter: ~40x faster than pysbd
on news text, which matters because chunking runs on every ingested character). Line
breaks are always sentence boundaries (the cleaner keeps headings and paragraphs on
lines of their own). A chunk is a run of consecutive sentences whose token counts sum
to at most ``max_tokens``; the next chunk repeats the last ``overlap`` sentences.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.store.records import ChunkRecord, SentenceRecord
from retrieval.types import Chunk, Document, stable_hash

TokenCounter = Callable[[Sequence[str]], list[int]]

# A "sentence" longer than this (a table row, a 50 MB line of junk) is cut at spaces:
# it cannot be embedded whole anyway, and the sentence splitter is not built for it.
MAX_SENTENCE_CHARS = 2000
_LINE = re.compile(r"[^\n]+")
_WORDISH = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approx_token_counts(texts: Sequence[str]) -> list[int]:
    """Word-piece count estimate (words and punctuation) for when no tokenizer is at hand."""
    return [len(_WORDISH.findall(t)) for t in texts]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence in ``text``, in order, trimmed of surrounding space."""
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        for start, end in _split_line(line.group()):
            spans.extend(_limit_length(text, line.start() + start, line.start() + end))
    return spans


def _split_line(line: str) -> list[tuple[int, int]]:
    if not line.strip():
        return []
    try:
        import blingfire

        _, offsets = blingfire.text_to_sentences_and_offsets(line)
    except Exception:  # noqa: BLE001 - blingfire asserts on some odd inputs; the line is then one sentence
        offsets = [(0, len(line))]
    spans = []
    cursor = 0
    for start, end in offsets:
        start, end = max(start, cursor), min(end, len(line))
        if end <= start:
            continue
        # Trim whitespace; the splitter leaves trailing spaces inside a span.
        while start < end and line[start].isspace():
            start += 1
        while end > start and line[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
            cursor = end
    if not spans:
        stripped = line.strip()
        first = line.index(stripped[0])
        spans = [(first, first + len(stripped))]
    return spans


def _limit_length(text: str, start: int, end: int) -> list[tuple[int, int]]:
    pieces = []
    while end - start > MAX_SENTENCE_CHARS:
        cut = text.rfind(" ", start + MAX_SENTENCE_CHARS // 2, start + MAX_SENTENCE_CHARS)
        if cut <= start:
            cut = start + MAX_SENTENCE_CHARS
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces


def chunk_text(
    doc_id: str,
    text: str,
    max_tokens: int,
    overlap: int = 1,
    count_tokens: TokenCounter = approx_token_counts,
) -> list[Chunk]:
    """Chunks of whole sentences of ``text``; ``text[c.start:c.end] == c.text`` for each."""
    spans = sentence_spans(text)
    if not spans:
        return []
    tokens = count_tokens([text[s:e] for s, e in spans])
    chunks: list[Chunk] = []
    first = 0
    while first < len(spans):
        last = first
        total = tokens[first]
        while last + 1 < len(spans) and total + tokens[last + 1] <= max_tokens:
            last += 1
            total += tokens[last]
        start, end = spans[first][0], spans[last][1]
        chunks.append(Chunk(doc_id, len(chunks), text[start:end], start, end))
        if last + 1 >= len(spans):
            break
        # Step back `overlap` sentences, but always move forward, and keep the overlap
        # small enough that the next sentence still fits beside it.
        nxt = max(last + 1 - overlap, first + 1)
        while nxt <= last and sum(tokens[nxt : last + 2]) > max_tokens:
            nxt += 1
        first = nxt
    return chunks


def chunk_document(
    doc: Document, max_tokens: int, overlap: int = 1, count_tokens: TokenCounter = approx_token_counts
) -> list[Chunk]:
    return chunk_text(doc.id, doc.text, max_tokens, overlap, count_tokens)


@dataclass(frozen=True)
class ChunkSettings:
    """What chunking a document depends on (besides the tokenizer)."""

    max_tokens: int
    overlap_sentences: int
    embed_title: bool
    sentence_vectors: bool


def chunk_one(
    doc: Document, settings: ChunkSettings, count_tokens
) -> tuple[list[ChunkRecord], list[str], list[SentenceRecord], list[str]]:
    """One document's chunk records and texts as embedded, and its sentence records and
    texts (none without sentence vectors). Pure: the same everywhere it runs."""
    records, texts = [], []
    for chunk in chunk_document(doc, settings.max_tokens, settings.overlap_sentences, count_tokens):
        text = embed_text(doc, chunk, settings.embed_title)
        texts.append(text)
        records.append(ChunkRecord(doc.id, chunk.ordinal, chunk.start, chunk.end, stable_hash(text)))
    sentences, sentence_texts = [], []
    for start, end in sentence_spans(doc.text) if settings.sentence_vectors else ():
        text = doc.text[start:end]
        sentences.append(SentenceRecord(doc.id, start, end, stable_hash(text)))
        sentence_texts.append(text)
    return records, texts, sentences, sentence_texts


def embed_text(doc: Document, chunk: Chunk, with_title: bool) -> str:
    """The text the model sees for a chunk: the title gives a mid-article passage context."""
    if with_title and doc.title and not chunk.text.startswith(doc.title):
        return f"{doc.title}\n{chunk.text}"
    return chunk.text
