"""The answer model: the signals read off a search, the model that weighs them, and how
the service decides `answered` with it (issue 29)."""

from __future__ import annotations

import json
import math
from dataclasses import replace as dc_replace

import pytest

from retrieval.config import replace
from retrieval.query import answerable
from retrieval.query.answerable import AnswerModel, Signals, load_model, read_signals
from retrieval.query.ranking import Candidate, Specifics
from tests.helpers import build, service_for

FEATURES = tuple(Signals.__dataclass_fields__)


def _model(model_id: str, threshold: float = 0.5, **weights: float) -> AnswerModel:
    return AnswerModel(
        model_id=model_id,
        features=FEATURES,
        mean=tuple(0.0 for _ in FEATURES),
        scale=tuple(1.0 for _ in FEATURES),
        weights=tuple(weights.get(f, 0.0) for f in FEATURES),
        bias=0.0,
        threshold=threshold,
    )


def test_signals_say_how_much_of_the_question_is_shown_and_how_far_the_best_stands_out():
    candidates = [
        Candidate(0, 1.0, 0.8, 5.0),  # article a: best by meaning and by words
        Candidate(1, 0.6, 0.4, 1.0),
        Candidate(2, 0.5, 0.2, 0.0),
    ]
    doc_of = {0: "a", 1: "b", 2: "c"}.get
    found = Specifics(named={"ozer": 4.0}, unknown=frozenset({"zyx"}), total=6.0, top_idf=2.0)
    content = {"ozer": 4.0, "warn": 2.0}
    shown = [{"ozer", "warn", "aclu"}, {"warn"}]
    s = read_signals(0.7, 0.65, candidates, doc_of, found, content, shown)
    assert s.gap == pytest.approx(0.8 - (0.4 + 0.2) / 2)
    # 6 of the question's word weight shown, out of 6 + 2 for the word no passage holds
    assert s.coverage == pytest.approx(6.0 / 8.0)
    assert s.evidence == pytest.approx(4.0 / 6.0)  # the name shown, the unknown word not
    assert s.named == 1.0 and s.unknown == pytest.approx(2.0 / 8.0) and s.agree == 1.0
    # The best by words in another article: they disagree.
    other = [Candidate(0, 1.0, 0.8, 1.0), Candidate(1, 0.6, 0.4, 5.0)]
    assert read_signals(0.7, 0.65, other, doc_of, found, content, shown).agree == 0.0


def test_signals_of_a_question_that_names_nothing_and_a_single_candidate():
    found = Specifics(named={}, unknown=frozenset(), total=3.0, top_idf=2.0)
    s = read_signals(0.5, 0.5, [Candidate(0, 1.0, 0.6, 0.0)], {0: "a"}.get, found, {"bread": 3.0}, [set()])
    assert s.named == 0.0 and s.evidence == 0.0 and s.coverage == 0.0
    assert s.gap == pytest.approx(0.6) and s.agree == 0.0  # no BM25 match: no agreement to speak of


def test_the_model_is_a_logistic_regression_and_round_trips_through_json():
    model = _model("m", coverage=2.0, confidence=1.0)
    signals = Signals(0.5, 0.5, 0.1, 0.75, 0.0, 0.0, 0.0, 1.0)
    assert model.probability(signals) == pytest.approx(1 / (1 + math.exp(-(2.0 * 0.75 + 0.5))))
    again = AnswerModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again == model


@pytest.mark.parametrize(
    "change, message",
    [
        ({"features": ["confidence", "vibes"]}, "unknown signals"),
        ({"weights": [1.0]}, "differ in length"),
    ],
)
def test_a_malformed_model_file_is_refused(change, message):
    data = _model("m").to_json() | change
    with pytest.raises(ValueError, match=message):
        AnswerModel.from_json(data)


def test_the_shipped_model_loads_and_is_for_the_default_embedding_model():
    from retrieval.config import build_config
    from retrieval.embedding.tuned import TUNED

    shipped = json.loads(answerable.MODEL_FILE.read_text(encoding="utf-8"))
    model = AnswerModel.from_json(shipped)
    assert set(model.features) <= set(FEATURES)  # the signals it weighs are ones a search reads
    assert 0.0 < model.threshold < 1.0
    # Fitted on the default model's signals: an index built with it uses the model.
    default = build_config({}).embedding.model
    assert default in TUNED and model.model_id.endswith("+news-v1")
    assert load_model(model.model_id) == model
    assert load_model("hash") is None  # another embedding model: the cosine rule


def test_a_missing_model_file_means_the_cosine_rule(tmp_path):
    assert load_model("m", tmp_path / "none.json") is None


@pytest.fixture
def small_service(tmp_path, hash_config):
    config = replace(hash_config, search={"min_score": 0.3})
    build(config, tmp_path / "index", [_articles(tmp_path)])
    return service_for(config, tmp_path / "index")


def _articles(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text(
        "Coalition urges Amazon\n\nA coalition of civil rights groups urged Amazon to stop selling Rekognition."
    )
    (folder / "b.txt").write_text("Rain in Paris\n\nHeavy rain is forecast for Paris this weekend.")
    return folder


def test_the_service_decides_with_the_model_fitted_for_its_embedding_model(small_service, monkeypatch):
    question = "who urged them to stop selling that software?"  # no name: the model decides alone
    plain = small_service.ask(question, k=2)
    assert plain.signals is not None and plain.support is None  # hash embedder: no model for it
    model_id = small_service.snapshot().model_id
    for threshold, expected in ((0.01, True), (0.99, False)):
        model = _model(model_id, threshold, coverage=1.0)
        monkeypatch.setattr(answerable, "_read", lambda path, m=model: m)
        answer = small_service.ask(question, k=2)
        assert answer.support == pytest.approx(model.probability(answer.signals))
        assert answer.answered is expected
        # The word beside the first result never contradicts the verdict.
        assert (answer.hits[0].label == "strong") is expected
    # search.answer_threshold moves the line without refitting.
    small_service.settings = dc_replace(small_service.settings, answer_threshold=0.0)
    assert small_service.ask(question, k=2).answered
    small_service.settings = dc_replace(small_service.settings, answer_threshold=None)
    # A name question whose names are all shown is answered whatever the model says; a
    # question that only mentions names it shows is the model's to decide.
    named = small_service.ask("Who is Rekognition?", k=2)
    assert named.evidence == 1.0 and named.answered and named.support < 0.99
    mentions = small_service.ask("Who urged Amazon to stop selling Rekognition?", k=2)
    assert mentions.evidence == 1.0 and not mentions.answered
    off = dc_replace(small_service.settings, answer_model=False)
    small_service.settings = off
    assert small_service.ask(question, k=2).support is None


def test_the_figure_shown_is_what_decided_the_verdict(small_service, monkeypatch):
    # With the model deciding, the first result carries its support and the word follows the
    # model's threshold: a name question answered at a low cosine ("Who is Nicole Ozer?",
    # cosine 0.20) no longer reads "0.20 strong" under a 0.465 cosine threshold.
    model = _model(small_service.snapshot().model_id, 0.4, coverage=1.0)
    monkeypatch.setattr(answerable, "_read", lambda path: model)
    for question in ("who urged them to stop selling that software?", "Who is Rekognition?", "rain"):
        answer = small_service.ask(question, k=2)
        figures = [h.strength for h in answer.hits]
        assert figures[0] == pytest.approx(answer.support) and figures == sorted(figures, reverse=True)
        threshold = small_service.settings.min_score  # a later result's own cosine must reach it
        for before, h in zip(answer.hits, answer.hits[1:], strict=False):
            want = "strong" if h.strength >= 0.4 else ("fair" if h.strength >= 0.3 else "weak")
            off = max(h.similarity, h.sentence_similarity) < threshold or before.label != "strong"
            assert h.label == (
                want if (answer.answered and not (want == "strong" and off)) or want != "strong" else "fair"
            )
        assert (answer.hits[0].label == "strong") is answer.answered
    # The cosine rule (no model for the index): the figure is the cosine, as before.
    small_service.settings = dc_replace(small_service.settings, answer_model=False)
    answer = small_service.ask("who urged them to stop selling that software?", k=2)
    assert answer.support is None and answer.hits[0].strength == pytest.approx(answer.confidence)


def test_eval_reports_the_support_it_decided_on(small_service, monkeypatch):
    from retrieval.bench.evaluation import EvalQuestion, evaluate

    questions = [EvalQuestion(q="who urged them to stop selling that software?", expect=("Rekognition",))]
    before = evaluate(questions, [small_service.ask(q.q, k=2) for q in questions])
    assert before.rows[0]["support"] is None  # the cosine rule: nothing to show
    model = _model(small_service.snapshot().model_id, 0.99, coverage=1.0)
    monkeypatch.setattr(answerable, "_read", lambda path: model)
    answers = [small_service.ask(q.q, k=2) for q in questions]
    report = evaluate(questions, answers)
    row = report.rows[0]
    assert row["support"] == pytest.approx(answers[0].support, abs=1e-4) and not row["answered"]
    assert row["rank"] == 1 and report.abstained == [row]  # found, but below the threshold


def test_a_timeline_lists_no_story_for_a_question_ask_would_not_count_answered(small_service, monkeypatch):
    question = "who urged them to stop selling that software?"
    model_id = small_service.snapshot().model_id
    for threshold, listed in ((0.01, True), (0.99, False)):
        model = _model(model_id, threshold, coverage=1.0)
        monkeypatch.setattr(answerable, "_read", lambda path, m=model: m)
        assert small_service.ask(question, k=2).answered is listed
        timeline = small_service.timeline(question)
        assert bool(timeline.hits) is listed and timeline.answered is listed


def test_the_bold_sentence_is_not_chosen_for_holding_an_asking_word(small_service, monkeypatch):
    # "which" says nothing of what is asked; in a small collection it is rare, so counted
    # as a question word it outweighed the words that say what the question is about.
    from retrieval.query import service as service_module

    seen = []
    real = service_module.sentence_coverage

    def spy(sentences, question_tokens, idf):
        seen.append(list(question_tokens))
        return real(sentences, question_tokens, idf)

    monkeypatch.setattr(service_module, "sentence_coverage", spy)
    small_service.ask("Which groups urged Amazon?", k=2)
    assert seen and "which" not in seen[-1] and {"group", "urg", "amazon"} <= set(seen[-1])
    monkeypatch.setattr(service_module, "SENTENCE_SKIPS_ASKING", False)
    small_service.ask("Which groups urged Amazon?", k=2)
    assert "which" in seen[-1]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"model_id": "m"}',
        b"\xff\xfe",
        b'{"model_id": "m", "features": ["vibes"], "mean": [], '
        b'"scale": [], "weights": [], "bias": 0, "threshold": 0.5}',
    ],
)
def test_a_damaged_model_file_is_one_clear_error_not_a_silent_change(tmp_path, content):
    from retrieval.errors import ModelLoadError

    path = tmp_path / "answerable.json"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=r"cannot be read.*search\.answer_model: false"):
        load_model("m", path)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ModelLoadError):
        load_model("m", tmp_path / "dir.json")  # a folder where the file should be


def test_ask_with_a_damaged_model_file_says_so_in_one_line(cli_env, monkeypatch):
    from click.testing import CliRunner

    from retrieval.cli import main
    from tests.helpers import BUNDLED, HASH_CONFIG_YAML

    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML)
    assert CliRunner().invoke(main, ["index", str(BUNDLED)]).exit_code == 0
    bad = cli_env / "answerable.json"
    bad.write_text("{truncated")
    monkeypatch.setattr(answerable, "MODEL_FILE", bad)
    answerable._read.cache_clear()
    result = CliRunner().invoke(main, ["ask", "who urged Amazon to stop selling Rekognition?"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "cannot be read" in result.output and "search.answer_model: false" in result.output
    # What was indexed is untouched, and the way out works.
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML + "search:\n  answer_model: false\n")
    assert CliRunner().invoke(main, ["ask", "who urged Amazon to stop selling Rekognition?"]).exit_code == 0


def test_what_decided_and_where_the_model_applies(small_service, monkeypatch):
    model_id = small_service.snapshot().model_id
    monkeypatch.setattr(answerable, "_read", lambda path: _model(model_id, 0.99, coverage=1.0))
    named = small_service.ask("Who is Rekognition?", k=2)
    assert named.answered and named.decided_by == "names shown"
    # A timeline of an answered question lists at least the answer /ask shows first, even
    # when its cosine is under min_score (a name question is answered by its names).
    assert small_service.timeline("Who is Rekognition?").hits[0].document.id == named.hits[0].document.id
    plain = small_service.ask("who urged them to stop selling that software?", k=2)
    assert not plain.answered and plain.decided_by == "answer model"
    # Fitted on the hybrid ranking's signals: bm25 or dense alone go by the cosine rule.
    for mode in ("bm25", "dense"):
        alone = small_service.ask("who urged them to stop selling that software?", k=2, mode=mode)
        assert alone.support is None and alone.decided_by == "min_score"
    from retrieval.jsonout import answer_json

    assert answer_json(named)["answered_by"] == "names shown"


def test_the_verdict_is_on_the_first_three_results_whatever_k(bundled_index, hash_config, monkeypatch):
    service = service_for(hash_config, bundled_index)
    model = _model(service.snapshot().model_id, 0.5, coverage=3.0, confidence=2.0, gap=1.0)
    monkeypatch.setattr(answerable, "_read", lambda path: model)
    question = "Which companies received the coalition's letters?"
    answers = [service.ask(question, k=k) for k in (3, 5, 20)]
    assert len({a.hits[0].document.id for a in answers}) == 1 and len(answers[-1].hits) > 5
    assert len({round(a.support, 6) for a in answers}) == 1
    assert len({a.answered for a in answers}) == 1 and len({a.confidence for a in answers}) == 1


@pytest.mark.parametrize(
    "question", ["Tell me about Nicole Ozer.", "Who is Nicole Ozer exactly?", "Please tell me who Nicole Ozer is."]
)
def test_a_name_question_asked_in_conversation_is_still_a_name_question(question):
    # The name-aware fusion weight and the name rule go by the share of the question's
    # word weight its names carry: "me", "exactly", "please" ask, they do not say what about.
    from retrieval.query.ranking import is_question, specifics
    from retrieval.store.lexical import DEFAULT_PARAMS, tokenize

    class Lexical:
        def query_tokens(self, text):
            return tokenize([text], DEFAULT_PARAMS)[0]

    tokens = Lexical().query_tokens(question)
    idf = dict.fromkeys(tokens, 2.0)
    assert is_question(question)
    assert specifics(question, tokens, idf, Lexical()).share == pytest.approx(1.0)


def test_timelines_and_alerts_list_no_filler_however_topical_its_sentence(small_service):
    from retrieval.types import Answer, Chunk, Document, Hit

    def hit(n, label, cosine):
        doc = Document(id=f"d{n}", title=f"t{n}", text="x", source=f"f{n}.txt")
        return Hit(Chunk(doc.id, 0, "x", 0, 1), doc, 1.0, n, 0.1, sentence_similarity=cosine, label=label)

    threshold = small_service.settings.min_score
    hits = (
        hit(1, "strong", threshold + 0.1),
        hit(2, "strong", threshold + 0.05),  # close below the first, and its passage answers: listed
        hit(3, "strong", threshold - 0.05),  # close by the ranking, but its own passage is off: not
        hit(4, "fair", threshold + 0.05),  # shown below the answering threshold: never alerted
        hit(5, "weak", threshold + 0.2),  # far below by the ranking, one topical sentence: filler
    )
    listed = small_service.answering(Answer("q", hits, answered=True))
    assert [h.rank for h in listed] == [1, 2]
    assert small_service.answering(Answer("q", hits, answered=False)) == []


def _signals(**values: float) -> Signals:
    return Signals(**{f: values.get(f, 0.0) for f in FEATURES})


def test_a_tree_model_adds_one_leaf_per_tree_to_its_bias():
    data = _model("m").to_json() | {
        "bias": 0.5,
        # tree 1: coverage (feature 3) <= 0.5 -> -1.0 else +1.0; tree 2: a single leaf.
        "trees": [[[3, 0.5, 1, 2], [-1.0], [1.0]], [[0.25]]],
    }
    model = AnswerModel.from_json(json.loads(json.dumps(data)))
    sigmoid = lambda z: 1.0 / (1.0 + math.exp(-z))  # noqa: E731
    assert model.probability(_signals(coverage=0.5)) == pytest.approx(sigmoid(0.5 - 1.0 + 0.25))
    assert model.probability(_signals(coverage=0.9)) == pytest.approx(sigmoid(0.5 + 1.0 + 0.25))
    assert AnswerModel.from_json(model.to_json()) == model


@pytest.mark.parametrize(
    "trees",
    [
        [[[3, 0.5, 0, 1], [1.0]]],  # a node pointing at itself: a walk that never ends
        [[[3, 0.5, 1, 5], [1.0]]],  # a child outside the tree
        [[[42, 0.5, 1, 2], [1.0], [2.0]]],  # a signal the model does not have
        [[[float("nan")]]],  # a leaf that is no number
        [[]],
    ],
)
def test_a_damaged_tree_fails_when_the_model_is_read_not_per_question(tmp_path, trees):
    from retrieval.errors import ModelLoadError

    path = tmp_path / "answerable.json"
    path.write_text(json.dumps(_model("m").to_json() | {"trees": trees}))
    with pytest.raises(ModelLoadError, match="cannot be read"):
        load_model("m", path)


def test_exported_trees_give_the_fitted_probabilities():
    np = pytest.importorskip("numpy")
    pytest.importorskip("sklearn")
    from benchmarks.fit_answerable import fit

    rng = np.random.default_rng(0)
    records = []
    for n in range(300):
        values = {f: float(rng.random()) for f in FEATURES}
        should = values["coverage"] + 0.3 * values["confidence"] + 0.2 * float(rng.random()) > 0.8
        # Each kind is all answerable or all not, as the dev sets are.
        records.append(["quiz_train" if should else "quizU_train", 0, 0, should, 0, f"q{n}", values])
    model, grid = fit(records, "m", kind="trees")  # raises when the export disagrees with sklearn
    assert model.trees and model.threshold in {g["threshold"] for g in grid}
    low, high = _signals(coverage=0.1), _signals(coverage=0.95, confidence=0.9)
    assert model.probability(high) > model.probability(low)  # monotonic in what is shown


def test_a_later_result_whose_own_text_is_off_the_question_is_not_strong():
    from retrieval.query.strength import FAIR, STRONG, rate
    from retrieval.types import Chunk, Document, Hit

    def hit(n: int, score: float, cosine: float) -> Hit:
        doc = Document(id=f"d{n}", title=f"t{n}", text="x", source=f"f{n}.txt")
        return Hit(Chunk(doc.id, 0, "x", 0, 1), doc, score, n, cosine, sentence_similarity=cosine)

    # Ranked close to the first (a story of the same town), its own cosine far below min_score.
    shown = rate([hit(1, 1.0, 0.62), hit(2, 0.95, 0.12), hit(3, 0.9, 0.5)], 0.62, 0.3, True, 0.8, 0.4)
    assert [h.label for h in shown] == [STRONG, FAIR, FAIR]  # and once the answers run out, one line
