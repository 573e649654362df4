"""Fusion and selection, checked against brute-force computations on seeded data."""

from datetime import UTC

import numpy as np
import pytest

from retrieval.query.highlight import sentence_coverage, text_fragment_url
from retrieval.query.ranking import (
    NAME_SHARE_FROM,
    Candidate,
    Filters,
    FusionParams,
    is_question,
    name_words,
    retrieve,
    select,
    specifics,
)
from retrieval.store.lexical import CollectionBM25, tokenize
from tests.helpers import BUNDLED, service_for


class FakeSnapshot:
    """Dense vectors + BM25 over a handful of texts, searched by brute force."""

    def __init__(self, texts, vectors):
        self.texts = texts
        self._vectors = vectors
        self.lexical = CollectionBM25.from_texts(texts)

    def search(self, vector, n, allowed=None):
        scores = self._vectors @ vector
        rows = np.arange(len(scores)) if allowed is None else np.asarray(allowed)
        order = rows[np.argsort(-scores[rows], kind="stable")][:n]
        return [(int(r), float(scores[r])) for r in order]

    def vectors(self, rows):
        return self._vectors[np.asarray(rows)]


@pytest.fixture
def snap():
    rng = np.random.default_rng(1)
    texts = [f"passage {i} about " + ("zebra stripes" if i % 3 == 0 else "penguin flight") for i in range(30)]
    texts[7] = "Rekognition is sold to police by Amazon"
    vectors = rng.normal(size=(30, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return FakeSnapshot(texts, vectors)


def query(snap):
    q = snap._vectors[3] + 0.3 * snap._vectors[7]
    return (q / np.linalg.norm(q)).astype(np.float32)


def test_dense_mode_is_exact_cosine_order(snap):
    q = query(snap)
    got = retrieve(snap, q, "zebra", "dense", 10)
    expected = np.argsort(-(snap._vectors @ q))[:10]
    assert [c.row for c in got] == expected.tolist()
    assert all(c.score == pytest.approx(c.dense) for c in got)


def test_bm25_mode_matches_lexical_scores(snap):
    got = retrieve(snap, query(snap), "Rekognition police", "bm25", 5)
    assert got[0].row == 7 and len(got) == 1  # only one passage has those words


def test_convex_fusion_equals_brute_force(snap):
    q = query(snap)
    params = FusionParams("convex", alpha=0.3)
    got = retrieve(snap, q, "zebra Rekognition", "hybrid", 8, params)
    lex = snap.lexical.scores("zebra Rekognition")
    rows = sorted({r for r, _ in snap.search(q, 8)} | set(np.argsort(-lex)[:8][lex[np.argsort(-lex)[:8]] > 0].tolist()))
    dense = snap._vectors[rows] @ q
    lx = lex[rows]

    def mm(x):
        return (x - x.min()) / (x.max() - x.min())

    fused = 0.3 * mm(dense) + 0.7 * mm(lx)
    expected = [rows[i] for i in np.argsort(-fused, kind="stable")[:8]]
    assert [c.row for c in got] == expected


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("who urged Amazon to stop selling Rekognition?", True),
        ("How many groups signed the letters", True),  # no question mark, still a question
        ("  «What did Microsoft say»", True),
        ("Boston bans facial recognition?", True),
        ("ADAR1 binds to Dicer to cleave pre-miRNA.", False),  # a claim
        ("facial recognition ban Boston", False),  # keywords
        ("Whoever wins, the ban stays", False),  # 'who' only as part of a word
    ],
)
def test_questions_are_told_from_statements(text, asked):
    assert is_question(text) is asked


def test_questions_and_statements_are_fused_with_their_own_weights(snap):
    q = query(snap)
    both = FusionParams("convex", alpha=0.0, question_alpha=1.0)
    # Weight 1 is dense order, weight 0 BM25 order: the form of the text picks which applies.
    asked = retrieve(snap, q, "which zebra Rekognition?", "hybrid", 8, both)
    stated = retrieve(snap, q, "zebra Rekognition", "hybrid", 8, both)
    assert [c.row for c in asked] == [c.row for c in sorted(asked, key=lambda c: -c.dense)]
    assert [c.row for c in stated] == [c.row for c in sorted(stated, key=lambda c: -c.lexical)]
    assert [c.row for c in asked] != [c.row for c in stated]
    # Without a question weight, both forms get alpha ("which" is a stop word to BM25).
    plain = FusionParams("convex", alpha=0.0)
    assert [c.row for c in retrieve(snap, q, "which zebra Rekognition?", "hybrid", 8, plain)] == [c.row for c in stated]


def test_rrf_fusion_rewards_agreement(snap):
    q = query(snap)
    got = retrieve(snap, q, "zebra stripes", "hybrid", 5, FusionParams("rrf"))
    scores = [c.score for c in got]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 2 / 61 for s in scores)


def test_filters_restrict_rows(snap):
    allowed = np.array([1, 2, 7])
    got = retrieve(snap, query(snap), "zebra Rekognition", "hybrid", 10, allowed=allowed)
    assert {c.row for c in got} <= {1, 2, 7}


def test_select_caps_per_document_and_folds_duplicates():
    v = np.eye(4, dtype=np.float32)
    vectors = np.stack([v[0], v[1], v[0], v[2], v[3]])  # third is a copy of the first
    cands = [Candidate(r, 1.0 - r * 0.1, 0.5, 0.0) for r in range(5)]
    docs = {0: "a", 1: "a", 2: "b", 3: "c", 4: "a"}
    chosen = select(cands, docs.__getitem__, vectors, k=3)
    assert [c.candidate.row for c in chosen] == [0, 3]
    first = chosen[0]
    assert first.more_in_document == 2  # rows 1 and 4 are also from "a"
    assert first.duplicate_rows == [2]


def test_mmr_prefers_variety():
    a, b = np.array([1, 0], np.float32), np.array([0, 1], np.float32)
    vectors = np.stack([a, a * 0.999 + b * 0.04, b])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cands = [Candidate(0, 1.0, 0, 0), Candidate(1, 0.95, 0, 0), Candidate(2, 0.9, 0, 0)]
    plain = select(cands, str, vectors, k=2, duplicate_threshold=1.1)
    varied = select(cands, str, vectors, k=2, duplicate_threshold=1.1, mmr_lambda=0.5)
    assert [c.candidate.row for c in plain] == [0, 1]
    assert [c.candidate.row for c in varied] == [0, 2]


def _select_by_definition(candidates, doc_of, vectors, k, per_document, duplicate_threshold, mmr_lambda):
    """Maximal marginal relevance as defined: every round, each remaining passage's gain
    is recomputed against everything chosen so far (for the first MMR_DEPTH choices;
    relevance order after them)."""
    from retrieval.query.ranking import MMR_DEPTH

    relevance = np.array([c.score for c in candidates], dtype=np.float64)
    if mmr_lambda < 1.0:
        lo, hi = relevance.min(), relevance.max()
        relevance = (relevance - lo) / (hi - lo) if hi - lo >= 1e-9 else np.ones_like(relevance)
    chosen, chosen_idx, counts, more = [], [], {}, {}
    remaining = list(range(len(candidates)))
    while remaining and len(chosen) < k:
        if mmr_lambda < 1.0 and chosen_idx and len(chosen) < MMR_DEPTH:
            gains = [
                mmr_lambda * relevance[i] - (1 - mmr_lambda) * max(float(vectors[i] @ vectors[j]) for j in chosen_idx)
                for i in remaining
            ]
            pick = remaining[int(np.argmax(gains))]
        else:
            pick = remaining[0]
        remaining.remove(pick)
        doc = doc_of(candidates[pick].row)
        if counts.get(doc, 0) >= per_document:
            more[doc] = more.get(doc, 0) + 1
            continue
        if chosen_idx and max(float(vectors[j] @ vectors[pick]) for j in chosen_idx) >= duplicate_threshold:
            continue
        chosen.append(candidates[pick].row)
        chosen_idx.append(pick)
        counts[doc] = counts.get(doc, 0) + 1
    return chosen


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("mmr_lambda", [1.0, 0.9, 0.5])
def test_select_equals_mmr_by_definition(seed, mmr_lambda):
    rng = np.random.default_rng(seed)
    n = 60
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    vectors[5] = vectors[3]  # a repeated passage
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = np.sort(rng.random(n))[::-1]
    cands = [Candidate(r, float(scores[r]), 0.0, 0.0) for r in range(n)]
    docs = {r: f"doc{rng.integers(0, 25)}" for r in range(n)}
    for per_document, k in ((1, 20), (2, 20), (2, 40)):
        got = select(cands, docs.__getitem__, vectors, k, per_document, 0.95, mmr_lambda)
        want = _select_by_definition(cands, docs.__getitem__, vectors, k, per_document, 0.95, mmr_lambda)
        assert [c.candidate.row for c in got] == want


def test_coverage_weights_rare_question_words():
    sentences = ["Facial recognition is everywhere.", "A study found it was inaccurate in 98 percent of cases."]
    lex = CollectionBM25.from_texts([*sentences, *["facial recognition in the news"] * 8, "other words here"])
    q = lex.query_tokens("how inaccurate was facial recognition")
    cov = sentence_coverage(tokenize(sentences, lex.params), q, lex.idf(q))
    idf = lex.idf(q)
    total = sum(idf.values())
    assert cov[1] == pytest.approx(idf["inaccur"] / total)
    assert cov[0] == pytest.approx((idf["facial"] + idf["recognit"]) / total)
    assert cov[1] > cov[0]  # the rare word outweighs two common ones


def test_text_fragment_links():
    url = text_fragment_url("https://ex.org/a#old", "Short one-line sentence, here.")
    assert url == "https://ex.org/a#:~:text=Short%20one%2Dline%20sentence%2C%20here."
    long = text_fragment_url("https://ex.org/a", " ".join(f"w{i}" for i in range(20)))
    assert long == "https://ex.org/a#:~:text=w0%20w1%20w2%20w3%20w4,w15%20w16%20w17%20w18%20w19"


def test_service_filters(bundled_index, hash_config):
    from datetime import datetime

    service = service_for(hash_config, bundled_index)
    since = datetime(2022, 1, 1, tzinfo=UTC)
    hits = service.ask("facial recognition", k=10, filters=Filters(since=since)).hits
    assert hits and all(h.document.published and h.document.published >= since for h in hits)
    hits = service.ask("facial recognition", k=10, filters=Filters(outlet="guardian")).hits
    assert [h.document.outlet for h in hits] == ["The Guardian"]
    hits = service.ask("facial recognition", k=10, filters=Filters(source="004_")).hits
    assert [h.document.source for h in hits] == ["004_a582f3a2c9e06838.txt"]
    assert not service.ask("facial recognition", filters=Filters(outlet="no such outlet")).hits


def test_service_pages_with_offset(bundled_index, hash_config):
    service = service_for(hash_config, bundled_index)
    first = service.ask("facial recognition", k=3)
    second = service.ask("facial recognition", k=3, offset=3)
    assert [h.rank for h in second.hits] == [4, 5, 6]
    assert not {h.document.id for h in first.hits} & {h.document.id for h in second.hits}


def test_bundled_exists():
    assert BUNDLED.is_dir()


def test_specifics_of_a_name_question():
    lexical = CollectionBM25.from_texts(["Nicole Ozer warned about face surveillance", "Amazon sells Rekognition"] * 3)
    tokens = lexical.query_tokens("Who is Nicole Ozer?")
    found = specifics("Who is Nicole Ozer?", tokens, lexical.idf(tokens), lexical)
    assert set(found.named) == {"nicol", "ozer"} and not found.unknown
    assert found.share == pytest.approx(1.0)  # "who is" asks; the name is all the question
    shown = set(lexical.query_tokens("Nicole Ozer warned about face surveillance"))
    assert found.presence(shown) == pytest.approx(1.0)
    assert found.presence(set(lexical.query_tokens("Amazon sells Rekognition"))) == 0.0
    # A quiz-like question: the name carries part of its word weight; the first word never counts.
    other = "Which company sells Rekognition to police forces?"
    tokens = lexical.query_tokens(other)
    found = specifics(other, tokens, lexical.idf(tokens), lexical)
    assert set(found.named) == {"rekognit"} and 0.0 < found.share < 1.0
    assert "polic" in found.unknown  # no passage holds it: it weighs as a one-passage word
    assert found.presence({"rekognit"}) < 1.0
    # Nothing specific: no presence to check.
    plain = "what did they warn about face surveillance"
    tokens = lexical.query_tokens(plain)
    assert specifics(plain, tokens, lexical.idf(tokens), lexical).presence(set()) is None


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("Who is Nicole Ozer?", ["Nicole", "Ozer"]),
        # A second sentence's first word is capitalised anyway, and an asking word never names.
        ("Nicole Ozer was quoted. What did she warn about?", ["Ozer"]),
        ("The Emmys were this week. Which show won Outstanding Drama?", ["Emmys", "Outstanding", "Drama"]),
        ("Is it Ozer? Or Nowak!", ["Ozer", "Nowak"]),
        # A full stop that ends an abbreviation or an initial does not start a sentence.
        ("What did U.S. President Joe Biden say?", ["U.S.", "President", "Joe", "Biden"]),
        ("What did Dr. Smith and John F. Kennedy say in 2019?", ["Dr.", "Smith", "John", "F.", "Kennedy", "2019"]),
        ('"Who is Nicole Ozer?"', ["Nicole", "Ozer"]),  # an opening quote is not a word
        ("How many groups signed? About 90?", ["90"]),
    ],
)
def test_the_words_that_name_something(question, names):
    assert name_words(question) == names


def test_a_name_asked_after_a_sentence_of_context_is_still_all_the_ask():
    passage = "Nicole Ozer was quoted: she warned about face surveillance"
    lexical = CollectionBM25.from_texts([passage, "Amazon sells Rekognition"] * 3)
    question = "Nicole Ozer was quoted. What did she warn about?"
    tokens = lexical.query_tokens(question)
    found = specifics(question, tokens, lexical.idf(tokens), lexical)
    # "What" is not a name the passages lack (it was: no passage holds "what"), so the
    # passage naming her holds all the question names.
    assert not found.unknown and set(found.named) == {"ozer"}
    assert found.presence(set(lexical.query_tokens(passage))) == 1.0


def test_a_name_in_any_script_s_capitals_is_a_name():
    from retrieval.store.lexical import FOLD

    lexical = CollectionBM25.from_texts(["Věra Jourová warned the platforms", "Łukasz Nowak spoke"] * 3, {"fold": FOLD})
    for question, names in (
        ("Who is Věra Jourová?", {"vera", "jourova"}),
        ("What did Łukasz Nowak say?", {"lukasz", "nowak"}),
    ):
        tokens = lexical.query_tokens(question)
        found = specifics(question, tokens, lexical.idf(tokens), lexical)
        assert set(found.named) == names and found.share == pytest.approx(1.0), question
    # Asked without the accents of the article, it is the same name.
    tokens = lexical.query_tokens("Who is Vera Jourova?")
    assert set(specifics("Who is Vera Jourova?", tokens, lexical.idf(tokens), lexical).named) == {"vera", "jourova"}


def test_name_weight_moves_only_for_name_heavy_questions():
    params = FusionParams("convex", alpha=0.7, question_alpha=0.85, name_alpha=0.1)
    assert params.alpha_for("Who is Nicole Ozer?", 1.0) == pytest.approx(0.1)
    assert params.alpha_for("Who is Nicole Ozer?", NAME_SHARE_FROM) == pytest.approx(0.85)  # below: unchanged
    middle = NAME_SHARE_FROM + (1 - NAME_SHARE_FROM) / 2
    assert params.alpha_for("Who is Nicole Ozer?", middle) == pytest.approx((0.85 + 0.1) / 2)
    assert params.alpha_for("Nicole Ozer warned", 1.0) == pytest.approx(0.7)  # statements keep alpha
    assert FusionParams("convex", 0.7, question_alpha=0.85).alpha_for("Who is Nicole Ozer?", 1.0) == 0.85


def test_a_name_question_is_ranked_by_its_name(snap):
    # Random vectors point anywhere; the name's passage (row 7) comes first once the
    # question is all name, as BM25 ranks it.
    q = query(snap)
    params = FusionParams("convex", alpha=0.7, question_alpha=1.0, name_alpha=0.0)
    got = retrieve(snap, q, "Who is Rekognition?", "hybrid", 8, params)
    assert got[0].row == 7
    dense_only = retrieve(snap, q, "Who is Rekognition?", "hybrid", 8, FusionParams("convex", 0.7, question_alpha=1.0))
    assert [c.row for c in dense_only] == [c.row for c in sorted(dense_only, key=lambda c: -c.dense)]


def test_answered_when_the_name_is_shown(bundled_index, hash_config):
    from retrieval.config import replace

    strict = replace(hash_config, search={"min_score": 0.99, "named_min_score": None})
    lenient = replace(hash_config, search={"min_score": 0.99, "named_min_score": 0.0})
    question = "Who is Nicole Ozer?"
    before = service_for(strict, bundled_index).ask(question)
    after = service_for(lenient, bundled_index).ask(question)
    assert any("Nicole Ozer" in h.text for h in after.hits[:3]) and after.evidence == pytest.approx(1.0)
    assert not before.answered and after.answered
    # A name no article holds is never vouched for by the name rule.
    unknown = service_for(lenient, bundled_index).ask("Who is Samuel Achebe?")
    assert unknown.evidence is not None and unknown.evidence < 1.0 and not unknown.answered


def test_a_missing_everyday_word_can_weigh_less_than_a_missing_name(monkeypatch):
    import retrieval.query.ranking as ranking

    lexical = CollectionBM25.from_texts(["The coalition sent letters", "Amazon sells Rekognition"] * 3)
    question = "Which organizations belong to the Zorblax coalition?"
    tokens = lexical.query_tokens(question)
    found = specifics(question, tokens, lexical.idf(tokens), lexical)
    assert found.unknown == {"organiz", "belong", "zorblax"} and not found.common  # off (1.0): all alike
    assert found.missing == pytest.approx(3 * found.top_idf)
    monkeypatch.setattr(ranking, "COMMON_UNKNOWN", 0.5)
    found = specifics(question, tokens, lexical.idf(tokens), lexical)
    assert found.common == {"organiz", "belong"}  # "Zorblax" is a name the vocabulary lacks
    assert found.missing == pytest.approx((1 + 2 * 0.5) * found.top_idf)
