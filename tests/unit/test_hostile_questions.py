"""Hostile questions: each gets a clean answer or a clean validation error, in the
service, the CLI and the bot alike; arbitrary text never crashes the query path or the
front-matter reader. (Readers during writes: tests/integration/test_readers_during_writes.py.)"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.cli import main
from retrieval.errors import QuestionError
from retrieval.ingest.readers import UnreadableError, split_front_matter
from retrieval.query.ranking import Filters
from tests.helpers import BUNDLED, build, service_for

HOSTILE_QUESTIONS = {
    "emoji": "🤖 who urged Amazon 🛑 to stop selling Rekognition? 🙏",
    "right-to-left": "من طالب أمازون بالتوقف عن بيع Rekognition؟",
    "other language": "Wer hat Amazon aufgefordert, Rekognition nicht mehr zu verkaufen?",
    "chinese": "谁敦促亚马逊停止销售Rekognition？",
    "discord markup": "@everyone <@&123> ||spoiler|| ```code``` **who** urged Amazon?",
    "sql-like": "'; DROP TABLE documents; -- Robert'); SELECT * FROM chunks WHERE 1=1",
    "regex-like": "(.*)+[a-z]{1,}\\d?^$|((a+)+)$ Rekognition",
    "only stopwords": "the of and to a in is it that",
    "control characters": "who\x07 urged\x1b[31m Amazon\x00?",
    "like-wildcards": "%_% Amazon %",
    # One byte that is not UTF-8, as stdin or argv hand it over (surrogateescape), and a lone
    # surrogate as JSON can carry: no backend can encode either.
    "invalid utf-8": "who urged Amazon \udcff to stop selling Rekognition?",
    "lone surrogate": "who urged Amazon \ud83d to stop selling Rekognition?",
}
REFUSED = {"empty": "", "whitespace": " \t\n ", "100 kB": "why " * 25_000, "only NUL": "\x00\x00"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from retrieval.config import build_config

    config = build_config({"embedding": {"model": "hash"}})
    folder = tmp_path_factory.mktemp("idx")
    build(config, folder, [BUNDLED])
    return service_for(config, folder), folder


def check_answer(svc, answer, k):
    """What every answer must be, whatever the question: at most k hits, ranked 1..n, one
    per article, each the exact text of its passage with its highlight inside it, and
    `answered` decided on the closest passage or sentence of the first three shown."""
    hits = answer.hits
    assert len(hits) <= k
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert len({h.document.id for h in hits}) == len(hits)
    for hit in hits:
        assert hit.document.text[hit.chunk.start : hit.chunk.end] == hit.text
        if hit.highlight_start is not None:
            assert 0 <= hit.highlight_start < hit.highlight_end <= len(hit.text)
    expected = max((max(h.similarity, h.sentence_similarity) for h in hits[:3]), default=0.0)
    assert answer.confidence == pytest.approx(expected)
    # Close enough in meaning, or (named_min_score) every specific term of the question shown.
    assert answer.answered == (bool(hits) and svc._answered(answer.confidence, answer.evidence))
    assert answer.evidence is None or 0.0 <= answer.evidence <= 1.0


# What each hostile question asks once its decoration is taken off: the decoration must
# not change the article that answers. (The other-language ones share only a name.)
PLAIN = {
    "emoji": "who urged Amazon to stop selling Rekognition?",
    "invalid utf-8": "who urged Amazon to stop selling Rekognition?",
    "discord markup": "who urged Amazon?",
    "control characters": "who urged Amazon?",
}


@pytest.mark.parametrize("name", HOSTILE_QUESTIONS)
def test_hostile_questions_get_clean_answers(service, name):
    svc, _ = service
    answer = svc.ask(HOSTILE_QUESTIONS[name])
    check_answer(svc, answer, svc.settings.k)
    if name in PLAIN:
        plain = svc.ask(PLAIN[name])
        assert answer.hits and answer.hits[0].document.id == plain.hits[0].document.id
    if name == "sql-like":  # read as words, never as SQL: the index is whole afterwards
        assert len(svc.snapshot().documents()) == 15
    if name == "like-wildcards":  # nor as a LIKE pattern where it filters by outlet
        assert not svc.ask("Amazon", filters=Filters(outlet="%")).hits
        assert not svc.ask("Amazon", filters=Filters(outlet="_he Guardian")).hits
        assert svc.ask("Amazon", filters=Filters(outlet="Guardian")).hits


@pytest.mark.parametrize("name", REFUSED)
def test_unanswerable_questions_get_clean_errors(service, name):
    svc, _ = service
    with pytest.raises(QuestionError):
        svc.ask(REFUSED[name])


@pytest.mark.parametrize("name", [*HOSTILE_QUESTIONS, *REFUSED])
def test_cli_handles_every_hostile_question(service, name, tmp_path, monkeypatch):
    _, folder = service
    config = tmp_path / "c.yaml"
    config.write_text("embedding:\n  model: hash\n")
    question = {**HOSTILE_QUESTIONS, **REFUSED}[name].replace("\x00", "")
    result = CliRunner().invoke(
        main, ["--config", str(config), "ask", "--index-dir", str(folder), "--json", question or " "]
    )
    assert "Traceback" not in result.output
    if name in REFUSED:
        assert result.exit_code == 1 and result.stderr.startswith("error: ")
    else:
        assert result.exit_code == 0 and "hits" in json.loads(result.stdout)


def test_invalid_code_points_become_replacement_characters():
    from retrieval.query.service import clean_question

    assert clean_question("caf\udcc3\udca9 \udcff \ud83d", 100) == "café \ufffd \ufffd"  # escaped bytes decoded
    assert clean_question(b"who \xff urged", 100) == "who \ufffd urged"


def test_the_onnx_tokenizer_gets_text_it_can_encode():
    """The default model's tokenizer refuses a lone surrogate (the TypeError users met);
    the question as the service passes it on is encodable."""
    from tokenizers import Tokenizer

    from retrieval.embedding.base import packaged_model_path
    from retrieval.query.service import clean_question

    tokenizer = Tokenizer.from_file(str(packaged_model_path() / "tokenizer.json"))
    raw = HOSTILE_QUESTIONS["invalid utf-8"]
    with pytest.raises(TypeError):
        tokenizer.encode_batch([raw])
    (encoding,) = tokenizer.encode_batch([clean_question(raw, 1000)])
    assert encoding.tokens[:6] == ["[CLS]", "who", "urged", "amazon", "to", "stop"]  # U+FFFD left out


def _cli_batch(folder, tmp_path, stdin: bytes):
    config = tmp_path / "c.yaml"
    config.write_text("embedding:\n  model: hash\n")
    args = ["--config", str(config), "ask", "--index-dir", str(folder), "--json", "-"]
    result = CliRunner().invoke(main, args, input=stdin)
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_batch_with_an_invalid_byte_answers_every_line(service, tmp_path):
    _, folder = service
    records = _cli_batch(folder, tmp_path, b"who urged Amazon?\nwho urged \xff Amazon?\nwhat is Rekognition?\n")
    assert [r["question"] for r in records] == ["who urged Amazon?", "who urged \ufffd Amazon?", "what is Rekognition?"]
    assert all(r["hits"] and "error" not in r for r in records)


def test_a_failure_on_one_batch_line_costs_that_line_only(service, tmp_path, monkeypatch):
    from retrieval.query.service import QueryService

    _, folder = service
    real = QueryService.ask

    def ask(self, question, *args, **kwargs):
        if "boom" in question:
            raise TypeError("TextEncodeInput must be Union[TextInputSequence, Tuple[InputSequence, InputSequence]]")
        return real(self, question, *args, **kwargs)

    monkeypatch.setattr(QueryService, "ask", ask)
    records = _cli_batch(folder, tmp_path, b"who urged Amazon?\nboom\nwhat is Rekognition?\n")
    assert [bool(r["hits"]) for r in records] == [True, False, True]
    assert records[1]["error"].startswith("unexpected failure (TypeError: TextEncodeInput must be")
    assert records[1]["question"] == "boom"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400))
def test_query_path_never_crashes_on_arbitrary_text(service, text):
    svc, _ = service
    try:
        answer = svc.ask(text)
    except QuestionError as exc:
        assert "empty" in str(exc)  # 400 characters at most: under the limit, so only blank text is refused
        return
    check_answer(svc, answer, svc.settings.k)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600), st.text(max_size=200))
def test_front_matter_reader_never_crashes(front, body):
    text = f"---\n{front}\n---\n{body}"
    try:
        data, rest = split_front_matter(text)
    except UnreadableError:
        return
    assert data is None or isinstance(data, dict)
    assert isinstance(rest, str)


def test_a_full_width_question_asks_what_its_plain_form_asks():
    from retrieval.query.service import clean_question

    assert clean_question("Ｗｈｏ ｉｓ Ｎｉｃｏｌｅ Ｏｚｅｒ？", 1000) == "Who is Nicole Ozer?"
    assert clean_question("the ﬁne for Rekognition ２０１９", 1000) == "the fine for Rekognition 2019"
