"""BM25 from segment postings: bm25s's scores on one segment, the same scores however the
collection is segmented or has deletions, and merged postings equal to a fresh build."""

import itertools

import numpy as np
import pytest

from retrieval.store.lexical import DEFAULT_PARAMS, CollectionBM25, LexicalPart, Postings, tokenize
from tests.helpers import BUNDLED

QUESTIONS = ["who urged Amazon to stop selling Rekognition", "facial facial recognition police ban", "IRS ID.me"]


@pytest.fixture(scope="module")
def tokens():
    paragraphs = [p for f in sorted(BUNDLED.iterdir()) for p in f.read_text().split("\n\n") if p.strip()]
    return tokenize(paragraphs, DEFAULT_PARAMS)


def test_one_segment_scores_exactly_as_bm25s(tokens):
    import bm25s

    reference = bm25s.BM25(k1=DEFAULT_PARAMS["k1"], b=DEFAULT_PARAMS["b"], method="lucene")
    reference.index(tokens, show_progress=False)
    ours = CollectionBM25([LexicalPart(Postings.build(tokens), 0, None)], len(tokens), {})
    for question in QUESTIONS:
        q = tokenize([question], DEFAULT_PARAMS)[0]
        expected = reference.get_scores([t for t in q if t in reference.vocab_dict])
        np.testing.assert_allclose(ours.scores(question, q), expected, rtol=1e-6, atol=1e-7)


def test_segments_with_deletions_score_as_the_live_rows_alone(tokens):
    n = len(tokens)
    cuts = [0, n // 3, n // 3 + 1, 2 * n // 3, n]  # a one-row segment among them
    rng = np.random.default_rng(0)
    parts, live_rows = [], []
    for a, b in itertools.pairwise(cuts):
        live = rng.random(b - a) > 0.2
        parts.append(LexicalPart(Postings.build(tokens[a:b]), a, live))
        live_rows += [a + i for i in np.flatnonzero(live)]
    segmented = CollectionBM25(parts, len(tokens), {})
    kept = [tokens[r] for r in live_rows]
    alone = CollectionBM25([LexicalPart(Postings.build(kept), 0, None)], len(kept), {})
    for question in QUESTIONS:
        q = tokenize([question], DEFAULT_PARAMS)[0]
        scores = segmented.scores(question, q)
        np.testing.assert_allclose(scores[live_rows], alone.scores(question, q), rtol=1e-5)
        assert not np.delete(scores, live_rows).any()  # deleted rows never score
        assert segmented.idf(q) == pytest.approx(alone.idf(q))


def test_merged_postings_equal_a_fresh_build(tokens):
    live = np.ones(len(tokens) - 50, dtype=bool)
    live[::3] = False
    merged = Postings.merge([(Postings.build(tokens[:50]), None), (Postings.build(tokens[50:]), live)])
    fresh = Postings.build(tokens[:50] + [t for t, keep in zip(tokens[50:], live, strict=True) if keep])
    assert merged.vocabulary == fresh.vocabulary
    for name in ("indptr", "rows", "tfs", "lengths"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(fresh, name))


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Věra Jourová", "Vera Jourova"),
        ("Nicole Özer", "Nicole Ozer"),
        ("Øresund, Łódź, Straße, STRAẞE, Æsir", "Oresund, Lodz, Strasse, STRASSE, AEsir"),
        ("Nguyễn Tấn Dũng, Đà Nẵng", "Nguyen Tan Dung, Da Nang"),
        ("ﬁnance, Ｖěｒａ", "finance, Vera"),  # compatibility forms, as NFKD unfolds them
        ("Ελληνικά", "Ελληνικά"),  # Greek keeps its tonos
        ("Erdoğan in İstanbul", "Erdogan in Istanbul"),
        ("naïve café", "naive cafe"),
        ("plain ASCII stays", "plain ASCII stays"),
        # Other scripts keep their marks: a Devanagari virama is part of the word.
        ("हिन्दी", "हिन्दी"),
        ("日本語のニュース", "日本語のニュース"),
    ],
)
def test_fold_takes_the_accents_off_latin_letters_only(text, folded):
    from retrieval.store.lexical import fold

    assert fold(text) == folded


def test_a_folding_index_matches_a_name_with_or_without_its_accents():
    from retrieval.store.lexical import FOLD

    texts = ["Věra Jourová warned the platforms.", "Vera Jourova spoke again.", "Nothing about her."]
    folded = CollectionBM25.from_texts(texts, {"fold": FOLD})
    for question in ("Who is Vera Jourova?", "Who is Věra Jourová?", "WHO IS VĚRA JOUROVÁ?"):
        scores = folded.scores(question)
        assert scores[0] > 0 and scores[1] > 0 and scores[2] == 0, question
    # An index written before folding (no ``fold`` in its settings) tokenises as it always did.
    plain = CollectionBM25.from_texts(texts, {})
    assert plain.scores("Who is Vera Jourova?")[0] == 0 and plain.scores("Who is Věra Jourová?")[0] > 0
