"""`sourced eval` on the bundled articles with the hash embedder."""

import json

import pytest
from click.testing import CliRunner

from retrieval.bench.evaluation import load_questions
from retrieval.cli import main
from retrieval.errors import ConfigError
from tests.helpers import ROOT


def test_example_question_file_loads():
    questions = load_questions(ROOT / "data" / "questions.yaml")
    assert len([q for q in questions if not q.off_topic]) >= 15
    assert len([q for q in questions if q.off_topic]) >= 5


@pytest.mark.parametrize(
    "content, message",
    [
        ("questions: []", "needs a list"),
        ("questions:\n  - q: hello", "needs 'expect'"),
        ("questions:\n  - q: hello\n    expected: [x]", "unknown keys"),
        ("questions:\n  - expect: [x]", "needs a 'q:'"),
    ],
)
def test_bad_question_files(tmp_path, content, message):
    path = tmp_path / "q.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_questions(path)


def test_eval_command(tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("embedding:\n  model: hash\nsearch:\n  min_score: 0.5\n")
    questions = tmp_path / "q.yaml"
    questions.write_text(
        "questions:\n"
        "  - q: inaccurate in 98 percent of cases Metropolitan Police\n    expect: ['98 percent']\n"
        "  - q: Electronic Frontier Foundation coalition members\n    source: 003_dda86c09921c1694.txt\n"
        "  - q: zzzz qqqq\n    off_topic: true\n"
    )
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "idx"))
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config), "index", str(ROOT / "data" / "articles")]).exit_code == 0
    result = runner.invoke(main, ["--config", str(config), "eval", str(questions), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["questions"] == 2 and data["summary"]["off_topic_questions"] == 1
    assert data["summary"]["hit@1"] == 1.0 and data["summary"]["off_topic_abstention"] == 1.0
    assert [r["rank"] for r in data["questions"]] == [1, 1, None]
    human = runner.invoke(main, ["--config", str(config), "eval", str(questions)])
    assert "2 questions: hit@1 1.00" in human.stdout
