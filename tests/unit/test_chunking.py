"""Chunker properties (Hypothesis) and concrete cases."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.ingest.chunking import MAX_SENTENCE_CHARS, approx_token_counts, chunk_text, sentence_spans

words = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=12)
sentence = st.builds(
    lambda ws, end: " ".join(ws) + end,
    st.lists(words, min_size=1, max_size=25),
    st.sampled_from([".", "!", "?", "."]),
)
paragraph = st.builds(" ".join, st.lists(sentence, min_size=1, max_size=8))
document = st.builds("\n\n".join, st.lists(paragraph, min_size=0, max_size=6))
any_text = st.text(max_size=3000)


def check_invariants(text, chunks, max_tokens):
    spans = sentence_spans(text)
    starts = {s for s, _ in spans}
    ends = {e for _, e in spans}
    for c in chunks:
        assert text[c.start : c.end] == c.text  # offsets round-trip
        assert c.text.strip()  # no empty chunk
        assert c.start in starts and c.end in ends  # cuts fall between sentences only
    # Full coverage: every sentence lies wholly inside some chunk.
    for s, e in spans:
        assert any(c.start <= s and e <= c.end for c in chunks)
    # Chunks go forward and are numbered in order.
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(a.start < b.start and a.end < b.end for a, b in itertools.pairwise(chunks))
    # Within the token budget, unless a single sentence alone exceeds it.
    counts = approx_token_counts([text[s:e] for s, e in spans])
    for c in chunks:
        inside = [i for i, (s, e) in enumerate(spans) if c.start <= s and e <= c.end]
        assert sum(counts[i] for i in inside) <= max_tokens or len(inside) == 1


@settings(max_examples=300, deadline=None)
@given(document, st.integers(8, 300), st.integers(0, 3))
def test_properties_on_prose(text, max_tokens, overlap):
    chunks = chunk_text("d", text, max_tokens, overlap)
    check_invariants(text, chunks, max_tokens)
    # Prose that fits is never cut finer than it needs: a chunk ends early only when the
    # next sentence would not fit.
    spans = sentence_spans(text)
    counts = approx_token_counts([text[s:e] for s, e in spans])
    ends = [e for _, e in spans]
    for c in chunks[:-1]:
        last = ends.index(c.end)
        inside = [i for i, (s, e) in enumerate(spans) if c.start <= s and e <= c.end]
        assert (
            sum(counts[i] for i in inside) + counts[last + 1] > max_tokens
            or "\n\n" in text[c.end : spans[last + 1][0] + 1]
        )


@settings(max_examples=300, deadline=None)
@given(any_text, st.integers(8, 300), st.integers(0, 3))
def test_properties_on_arbitrary_text(text, max_tokens, overlap):
    check_invariants(text, chunk_text("d", text, max_tokens, overlap), max_tokens)


def test_sentences_are_never_cut():
    text = "First sentence here. Second one follows! Third asks why? Fourth ends it."
    chunks = chunk_text("d", text, max_tokens=5, overlap=0)
    assert [c.text for c in chunks] == [
        "First sentence here.",
        "Second one follows!",
        "Third asks why?",
        "Fourth ends it.",
    ]


def test_overlap_repeats_the_last_sentence():
    text = "One two three. Four five six. Seven eight nine. Ten eleven twelve."
    chunks = chunk_text("d", text, max_tokens=8, overlap=1)
    assert [c.text for c in chunks] == [
        "One two three. Four five six.",
        "Four five six. Seven eight nine.",
        "Seven eight nine. Ten eleven twelve.",
    ]


def test_lines_are_sentence_boundaries():
    text = "A headline without a full stop\nThe body starts here. It goes on."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "A headline without a full stop",
        "The body starts here.",
        "It goes on.",
    ]


def test_giant_line_is_cut_into_pieces():
    text = "word " * 10_000
    spans = sentence_spans(text)
    assert len(spans) > 10 and all(e - s <= MAX_SENTENCE_CHARS for s, e in spans)


def test_empty_and_blank_text():
    assert chunk_text("d", "", 100) == []
    assert chunk_text("d", " \n\n \t", 100) == []
