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
from retrieval.cli.options import (
    as_of_option,
    collection_options,
    filter_options,
    index_dir_option,
    make_filters,
    parse_as_of,
)
from retrieval.cli.render import console, escape, print_answer, print_timeline
from retrieval.jsonout import answer_json
from retrieval.query.ranking import MODES

# The keys a JSON line of `ask -` may carry (each overrides the command's option).
LINE_KEYS = ("question", "as_of", "k", "since", "until", "outlet", "source", "mode")


@click.command()
@click.argument("question")
@click.option("-k", "k", type=click.IntRange(1, 100), help="Number of passages (default: search.k).")
@index_dir_option
@collection_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question (QUESTION '-' reads stdin lines).")
@click.option("--mode", type=click.Choice(MODES), help="Ranking mode (default: search.mode).")
@filter_options
@as_of_option
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
    as_of: str | None,
) -> None:
    """Answer QUESTION with the best passages and their sources.

    With no index yet, the first question builds one (from the bundled sample articles
    unless configured otherwise). QUESTION '-' reads one question per line from stdin: a
    line of text, or a JSON object {"question", "as_of", "k", "since", "until", "outlet",
    "source", "mode"} answered with its own options (the command's options are the defaults).
    """
    from retrieval.errors import SourcedError
    from retrieval.query.service import clean_question, valid_text

    config = obj.config
    if question != "-":
        clean_question(question, config.search.max_question_chars)  # refuse before any slow work
    when = parse_as_of(as_of)
    filters = make_filters(since, until, outlet, source, when)  # a bad date fails before the index opens
    service = open_service(config, index_dir)
    if question != "-":
        answer = service.ask(question, k=k, filters=filters, mode=mode, as_of=when)
        if as_json:
            click.echo(json.dumps(answer_json(answer), ensure_ascii=False))
        else:
            print_answer(answer)
        return
    defaults = {"k": k, "since": since, "until": until, "outlet": outlet, "source": source, "mode": mode}
    defaults["as_of"] = as_of
    for line in _stdin_lines():
        if not line.strip():
            continue
        shown = line.strip()
        try:
            text, options = _line(line, defaults)
            shown = text.strip() if isinstance(text, str) else shown
            line_as_of = parse_as_of(options["as_of"])
            answer = service.ask(
                text,
                k=options["k"],
                filters=make_filters(
                    options["since"], options["until"], options["outlet"], options["source"], line_as_of
                ),
                mode=options["mode"],
                as_of=line_as_of,
            )
        except Exception as exc:  # noqa: BLE001 - one line's failure costs that line only, named in its record
            error = str(exc) if isinstance(exc, SourcedError) else f"unexpected failure ({type(exc).__name__}: {exc})"
            record = {
                "question": valid_text(shown),
                "answered": False,
                "confidence": 0.0,
                "hits": [],
                "took_ms": 0.0,
                "error": error,
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


def _line(line: str, defaults: dict) -> tuple[str, dict]:
    """A line of `ask -`: its question and options (the defaults, overridden by a JSON
    object's keys). A line that opens with "{" is JSON; :class:`QuestionError` says what is
    wrong with it, and costs that line only."""
    from retrieval.errors import QuestionError

    if not line.lstrip().startswith("{"):
        return line, dict(defaults)
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise QuestionError(f"This line is not valid JSON ({exc.msg} at column {exc.colno}).") from None
    if not isinstance(data, dict):
        raise QuestionError("A JSON line must be an object with a 'question'.")
    unknown = sorted(set(data) - set(LINE_KEYS))
    if unknown:
        raise QuestionError(f"Unknown key(s) {', '.join(map(repr, unknown))}; a line may have {', '.join(LINE_KEYS)}.")
    text = data.get("question")
    if not isinstance(text, str):
        raise QuestionError("A JSON line needs a 'question' that is text.")
    options = dict(defaults)
    for key in LINE_KEYS[1:]:
        if data.get(key) is not None:
            options[key] = data[key]
    k = options["k"]
    if not isinstance(k, int | None) or isinstance(k, bool) or (k is not None and not 1 <= k <= 100):
        raise QuestionError("'k' must be a whole number from 1 to 100.")
    for key in ("as_of", "since", "until", "outlet", "source", "mode"):
        if options[key] is not None and not isinstance(options[key], str):
            raise QuestionError(f"{key!r} must be text.")
    if options["mode"] is not None and options["mode"] not in MODES:
        raise QuestionError(f"Unknown search mode {options['mode']!r}; use one of {', '.join(MODES)}.")
    return text, options


@click.command()
@click.argument("question")
@index_dir_option
@collection_options
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as one JSON object.")
@click.option("-n", "limit", type=click.IntRange(1, 100), default=30, show_default=True, help="Most stories searched.")
@filter_options
@as_of_option
@click.pass_obj
def timeline(
    obj: CliContext,
    question: str,
    index_dir: Path | None,
    as_json: bool,
    limit: int,
    since,
    until,
    outlet: str | None,
    source: str | None,
    as_of: str | None,
) -> None:
    """The passages that answer QUESTION, one per story, oldest first.

    None when `ask` does not count the question answered; else its first result and every
    story whose passage reaches search.min_score. Wire copies are folded ("also reported by").
    """
    from retrieval.query.service import clean_question

    clean_question(question, obj.config.search.max_question_chars)
    when = parse_as_of(as_of)
    filters = make_filters(since, until, outlet, source, when)
    service = open_service(obj.config, index_dir)
    answer = service.timeline(question, filters=filters, as_of=when, limit=limit)
    if as_json:
        click.echo(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        print_timeline(answer)


def _stdin_lines():
    """stdin's lines as text, never failing on a byte: a line that is not UTF-8 keeps its
    bad bytes as surrogates (as argv does), and the query service replaces them."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:
        yield from sys.stdin
        return
    for line in raw:
        yield line.decode("utf-8", "surrogateescape")


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
    # The answer model's support, beside the cosine, when it decided (search.answer_model).
    with_support = any(r.get("support") is not None for r in report.rows)

    def figures(r: dict) -> list[str]:
        support = r.get("support")
        return [f"{r['confidence']:.2f}"] + ([f"{support:.2f}" if support is not None else ""] if with_support else [])

    figure_columns = ["confidence"] + (["support"] if with_support else [])
    if abstained:
        # Found, but below the answering threshold: the threshold's misses.
        table = Table(title="Found but abstained (below the answering threshold)")
        for column in ("question", "found at", *figure_columns):
            table.add_column(column)
        for r in abstained:
            table.add_row(escape(r["q"]), str(r["rank"]), *figures(r))
        out.print(table)
    misses = report.misses
    if misses:
        table = Table(title="Questions not found at rank 1")
        for column in ("question", "found at", "answered", *figure_columns):
            table.add_column(column)
        for r in misses:
            found = "off-topic" if r["off_topic"] else (str(r["rank"]) if r["rank"] else f"not in top {k}")
            found = "unanswerable" if r["unanswerable"] else found
            table.add_row(escape(r["q"]), found, str(r["answered"]), *figures(r))
        out.print(table)
