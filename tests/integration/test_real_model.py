"""End to end with the real default model (the packaged all-MiniLM-L6-v2 with its news-tuned
layers, loaded offline from site-packages and the repository)."""

import numpy as np
import pytest

from retrieval.bench.evaluation import evaluate, load_questions
from retrieval.config import build_config
from retrieval.embedding import make_embedder
from retrieval.embedding.adapter import AdaptedEmbedder, with_adapter
from retrieval.embedding.tuned import TUNED
from retrieval.ingest.indexer import Indexer
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from tests.helpers import BUNDLED, ROOT

pytestmark = pytest.mark.slow

COALITION_SOURCES = {"003_dda86c09921c1694.txt", "004_a582f3a2c9e06838.txt"}


@pytest.fixture(scope="module", params=["onnx-int8", "torch"])  # the default, and sentence-transformers
def real_service(request, tmp_path_factory):
    config = build_config({"embedding": {"backend": request.param}})
    # As the product runs it: the default model with the configured query adapter.
    embedder = with_adapter(
        make_embedder(config.embedding.model, config.embedding.backend, tmp_path_factory.mktemp("onnx")),
        config.embedding.query_adapter,
    )
    store = FolderStore(tmp_path_factory.mktemp("real") / "index")
    report = Indexer(config, store, embedder).run([BUNDLED])
    assert report.documents == 15 and not report.skipped
    return QueryService(store, lambda: embedder, config.search)


def test_default_model_gives_normalised_vectors(real_service):
    embedder = real_service.embedder
    # The tuned model is the default; the bundled adapter (for the untuned model) is skipped.
    assert not isinstance(embedder, AdaptedEmbedder)
    assert embedder.model_id == TUNED["all-MiniLM-L6-v2-news"][1] and embedder.dimension == 384
    vecs = embedder.embed(["Amazon sells Rekognition to police.", "The weather is nice today."])
    assert vecs.dtype == np.float32 and vecs.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    query = embedder.embed_query("Who sells face recognition to the police?")
    assert query @ vecs[0] > query @ vecs[1] + 0.2


# The passages that answer the card question, one per article that reports it.
ANSWERING_PHRASES = ("coalition of 90 civil and human rights groups", "more than 85 human rights groups")


def test_rekognition_question_is_answered_from_its_articles(real_service):
    answer = real_service.ask("who urged Amazon to stop selling Rekognition?")
    assert answer.answered
    top3 = answer.hits[:3]
    hits = [h for h in top3 if h.document.source in COALITION_SOURCES]
    assert hits, [(h.document.source, h.text[:80]) for h in top3]
    hit = hits[0]
    # The source shown is the article file: it has no link, and none is invented.
    assert hit.document.url is None and hit.document.display_source == hit.document.source
    assert hit.document.text[hit.chunk.start : hit.chunk.end] == hit.text


@pytest.mark.xfail(
    strict=True,
    reason="Known gap (issue 16): the articles rank, but the passage shown for each is not the one that answers.",
)
def test_rekognition_question_shows_an_answering_passage_in_the_top_3(real_service):
    answer = real_service.ask("who urged Amazon to stop selling Rekognition?")
    shown = [h.text for h in answer.hits[:3]]
    assert any(phrase in text for text in shown for phrase in ANSWERING_PHRASES), shown


def test_off_topic_question_is_not_answered(real_service):
    answer = real_service.ask("what is a good recipe for banana bread?")
    assert not answer.answered


@pytest.fixture(scope="module")
def indexed_texts(tmp_path_factory):
    """The passages and sentences the index holds for the bundled articles (what the
    backends really embed: cleaned text, not raw files with front matter)."""
    from retrieval.embedding import HashEmbedder
    from retrieval.ingest.chunking import chunk_text, sentence_spans

    config = build_config({})
    store = FolderStore(tmp_path_factory.mktemp("texts") / "index")
    docs = Indexer(config, store, HashEmbedder()).read([BUNDLED]).documents
    chunking = config.chunking
    passages = [c.text for d in docs for c in chunk_text(d.id, d.text, chunking.max_tokens, chunking.overlap_sentences)]
    sentences = [d.text[a:b] for d in docs for a, b in sentence_spans(d.text)]
    return passages, sentences


# Floors under the figures measured on 2026-12-02 (passages / sentences, min cosine to
# sentence-transformers: packaged onnx 1.00000 / 1.00000, onnx-int8 0.9916 / 0.9842, means
# 0.994 / 0.993; tuned onnx 1.00000 / 1.00000, onnx-int8 0.9893 / 0.9821, means 0.993 /
# 0.993). Top passage the same for 58 and 52 (packaged), 58 and 53 (tuned) of the 58
# bundled questions (measured 2026-12-03, after the name and unanswerable questions).
# int8 kernels differ by CPU (onnxruntime picks them by instruction set): on the machine of
# 2026-12-07 the packaged onnx-int8 passages' minimum was 0.9887, so its floor is the tuned
# model's 0.985, not 0.99.
FLOORS = {
    ("all-MiniLM-L6-v2", "onnx"): {"passages": 0.9999, "sentences": 0.9999, "mean": 0.9999, "same_top": 58},
    ("all-MiniLM-L6-v2", "onnx-int8"): {"passages": 0.985, "sentences": 0.978, "mean": 0.99, "same_top": 48},
    ("all-MiniLM-L6-v2-news", "onnx"): {"passages": 0.9999, "sentences": 0.9999, "mean": 0.9999, "same_top": 58},
    ("all-MiniLM-L6-v2-news", "onnx-int8"): {"passages": 0.985, "sentences": 0.978, "mean": 0.99, "same_top": 48},
}


@pytest.mark.parametrize(("model", "backend"), FLOORS)
def test_onnx_backends_match_sentence_transformers(tmp_path_factory, indexed_texts, model, backend):
    floor = FLOORS[model, backend]
    passages, sentences = indexed_texts
    assert len(passages) > 20 and len(sentences) > 50
    reference = make_embedder(model, "torch")  # sentence-transformers itself
    onnx = make_embedder(model, backend, tmp_path_factory.mktemp("onnx"))
    ref_passages = reference.embed(passages)
    onnx_passages = onnx.embed(passages)
    for name, ref, got in (
        ("passages", ref_passages, onnx_passages),
        ("sentences", reference.embed(sentences), onnx.embed(sentences)),
    ):
        cos = (ref * got).sum(axis=1)
        assert cos.min() >= floor[name], (name, cos.min())
        assert cos.mean() >= floor["mean"], (name, cos.mean())
    questions = [q.q for q in load_questions(ROOT / "data" / "questions.yaml")]
    same_top = sum(
        int(np.argmax(ref_passages @ reference.embed_query(q)) == np.argmax(onnx_passages @ onnx.embed_query(q)))
        for q in questions
    )
    assert len(questions) == 58 and same_top >= floor["same_top"], same_top
    assert onnx.count_tokens(["Rekognition is sold"]) == reference.count_tokens(["Rekognition is sold"])


def test_the_bundled_question_set_meets_its_stated_figures(real_service):
    # Stated in the README (2026-12-01, a fresh build; the same with the tuned default
    # model on 2026-12-02): 27 of the 29 on-topic questions in the top 3 with onnx-int8
    # (the card question is one miss), and every off-topic question abstained.
    questions = load_questions(ROOT / "data" / "questions.yaml")
    report = evaluate(questions, [real_service.ask(q.q, k=5) for q in questions])
    missed = [r["q"] for r in report.rows if not r["off_topic"] and (r["rank"] is None or r["rank"] > 3)]
    assert report.on_topic == 34 and report.off_topic == 8 and report.unanswerable == 16
    assert report.hit3 * report.on_topic >= 32, missed  # 2026-12-03: 32 of 34 (5 name questions added)
    assert report.abstention_rate == 1.0, [r["q"] for r in report.rows if r["off_topic"] and r["answered"]]
    # The answer model decides (docs/quality.md, issue 29 third and fifth rounds; onnx-int8
    # 2026-12-05, refitted with the small desks: 34 of 34 answered, 13 of the 16 on-topic
    # questions it cannot answer abstained, where the cosine rule abstained on 6).
    assert all(r["support"] is not None for r in report.rows)
    unanswered = [r["q"] for r in report.rows if not r["off_topic"] and not r["unanswerable"] and not r["answered"]]
    assert report.answered_rate * report.on_topic >= 33, unanswered
    wrongly = [r["q"] for r in report.rows if r["unanswerable"] and r["answered"]]
    assert report.unanswerable_abstention * report.unanswerable >= 12, wrongly


def test_follow_ups_are_answered_through_the_conversation(real_service):
    # Stated in docs/quality.md (2026-12-02, onnx-int8): asked alone 5 of 10 in the top 3;
    # through the follow-up path at bot.followup_weight 0.75, 10 of 10.
    from retrieval.bench.evaluation import evaluate_followups, load_followups

    weight = build_config({}).bot.followup_weight
    result = evaluate_followups(real_service, load_followups(ROOT / "data" / "followups.yaml"), weights=(weight,))
    (row,) = result["rows"]
    assert result["pairs"] == 10 and row["top3"] >= 8, row["missed"]
    assert row["top3"] > result["alone_top3"]
