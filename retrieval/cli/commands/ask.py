"""`sourced ask` and `sourced eval`: questions in, cited passages out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from retrieval.cli.context import (
    CliContext,
    open_service,
)
from retrieval.cli.options import collection_options, filter_options, index_dir_option, make_filters
from retrieval.cli.render import console, escape, print_answer
from retrieval.jsonout import answer_json
from retrieval.query.ranking import MODES


@click.command()
@click.argument("question")
@click.option("-k", "k", type=click.IntRange(1, 100), help="Number of passages (default: search.k).")
@index_dir_option
@collection_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question (QUESTION '-' reads stdin lines).")
@click.option("--mode", type=click.Choice(MODES), help="Ranking mode (default: search.mode).")
@filter_options
@click.pass_obj
def ask(
    obj: CliContext,
    question: str,
    k: int | None,
    index_dir: Path | None,
    as_json: bool,
    mode: str | None,
    since,
    until,
    outlet: str | None,
    source: str | None,
) -> None:
    """Answer QUESTION with the best passages and their sources.

    With no index yet, the first question builds one (from the bundled sample articles
    unless configured otherwise). QUESTION '-' reads one question per line from stdin.
    """
    from retrieval.errors import QuestionError
    from retrieval.query.service import clean_question

    config = obj.config
    if question != "-":
        clean_question(question, config.search.max_question_chars)  # refuse before any slow work
    service = open_service(config, index_dir)
    filters = make_filters(since, until, outlet, source)
    if question != "-":
        answer = service.ask(question, k=k, filters=filters, mode=mode)
        if as_json:
            click.echo(json.dumps(answer_json(answer), ensure_ascii=False))
        else:
            print_answer(answer)
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = service.ask(line, k=k, filters=filters, mode=mode)
        except QuestionError as exc:
            record = {
                "question": line.strip(),
                "answered": False,
                "confidence": 0.0,
                "hits": [],
                "took_ms": 0.0,
                "error": str(exc),
            }
        else:
            record = answer_json(answer)
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(f"\n=== {record['question']}")
            if "error" in record:
                click.echo(f"error: {record['error']}", err=True)
            else:
                print_answer(answer)


@click.command("eval")
@click.argument("questions_file", type=click.Path(dir_okay=False, path_type=Path))
@index_dir_option
@collection_options
@click.option("-k", "k", type=click.IntRange(5, 100), default=5, show_default=True, help="Passages per question.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and every question as JSON.")
@click.pass_obj
def eval_cmd(obj: CliContext, questions_file: Path, index_dir: Path | None, k: int, as_json: bool) -> None:
    """Score answers on your own question set (hit@1/3/5, MRR, abstention).

    QUESTIONS_FILE is YAML: a list under `questions:` of `q:` with `expect:` phrases
    and/or `url:`/`source:`, or `off_topic: true` / `unanswerable: true` (on topic, but
    not answered by the collection) for questions that should not be answered. See data/questions.yaml.
    """
    from retrieval.bench.evaluation import evaluate, load_questions

    questions = load_questions(questions_file)
    service = open_service(obj.config, index_dir)
    report = evaluate(questions, [service.ask(q.q, k=k) for q in questions])
    if as_json:
        click.echo(json.dumps({"summary": report.summary(), "questions": report.rows}, ensure_ascii=False))
        return
    out = console(stderr=False)
    summary = report.summary()
    out.print(
        f"{summary['questions']} questions: hit@1 {summary['hit@1']:.2f}  hit@3 {summary['hit@3']:.2f}  "
        f"hit@5 {summary['hit@5']:.2f}  MRR {summary['mrr']:.2f}  answered {summary['answered_rate']:.2f}"
    )
    if report.off_topic:
        out.print(
            f"{report.off_topic} off-topic questions: {summary['off_topic_abstention']:.2f} correctly not answered"
        )
    if report.unanswerable:
        out.print(
            f"{report.unanswerable} on-topic questions the collection does not answer: "
            f"{summary['unanswerable_abstention']:.2f} correctly not answered"
        )
    from rich.table import Table

    abstained = report.abstained
    if abstained:
        # Found, but the confidence stayed below search.min_score: the threshold's misses.
        table = Table(title="Found but abstained (confidence below search.min_score)")
        for column in ("question", "found at", "confidence"):
            table.add_column(column)
        for r in abstained:
            table.add_row(escape(r["q"]), str(r["rank"]), f"{r['confidence']:.2f}")
        out.print(table)
    misses = report.misses
    if misses:
        table = Table(title="Questions not found at rank 1")
        for column in ("question", "found at", "answered", "confidence"):
            table.add_column(column)
        for r in misses:
            found = "off-topic" if r["off_topic"] else (str(r["rank"]) if r["rank"] else f"not in top {k}")
            found = "unanswerable" if r["unanswerable"] else found
            table.add_row(escape(r["q"]), found, str(r["answered"]), f"{r['confidence']:.2f}")
        out.print(table)
