"""The `sourced` command line: a thin adapter over the library.

Library errors (:class:`~retrieval.errors.SourcedError`) become one line on stderr and a
non-zero exit code; nothing here prints a traceback. Progress and messages go to
stderr, so ``--json`` output on stdout stays machine-readable.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import click

from . import __version__
from .config import ENV_INDEX_DIR, Config, load_config, render_default_yaml, resolve_path, settings_table
from .embedding import BACKENDS
from .errors import IndexMissingError, SourcedError
from .ranking import MODES
from .vectors import KINDS

EXIT_ERROR = 1
EXIT_SKIPPED = 3
EXIT_INTERRUPTED = 130


class _Group(click.Group):
    """Turns library errors into one clean line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SourcedError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("SOURCED_DEBUG"):
                raise
            _fail(f"unexpected failure ({type(exc).__name__}: {exc}). Set SOURCED_DEBUG=1 to see details.")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sourced")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SOURCED_CONFIG",
    help="YAML settings file (see `sourced config`). Env: SOURCED_CONFIG.",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Answers from a collection of news articles, always with their sources."""
    ctx.obj = _Context(config_path)


class _Context:
    """Loads config and heavy collaborators once, when a command first needs them."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


def index_dir_option(f):
    return click.option(
        "--index-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Index folder. Default: ${ENV_INDEX_DIR}, else index.dir, else the per-user data folder.",
    )(f)


def resolve_index_dir(config: Config, option: Path | None) -> tuple[Path, bool]:
    """(index folder, whether the user chose it) by precedence: option, env, config, default."""
    if option is not None:
        return option.expanduser(), True
    if os.environ.get(ENV_INDEX_DIR):
        return Path(os.environ[ENV_INDEX_DIR]).expanduser(), True
    if config.index.dir:
        return resolve_path(config, config.index.dir), True
    from .paths import data_dir

    return data_dir() / "index", False


def _console(stderr: bool = True):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


# ---------------------------------------------------------------------------- index


class _RichProgress:
    """Progress bars for reading and embedding, on stderr."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.read_task = None
        self.embed_task = None

    def reading(self, done: int, total: int) -> None:
        if self.read_task is None:
            self.read_task = self.progress.add_task("Reading files", total=total)
        self.progress.update(self.read_task, completed=done, total=total)

    def embedding(self, total: int) -> None:
        self.embed_task = self.progress.add_task("Embedding chunks", total=total)

    def embedded(self, n: int) -> None:
        if self.embed_task is not None:
            self.progress.advance(self.embed_task, n)


@contextmanager
def _progress_bars() -> Iterator[_RichProgress]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description:<17}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_console(),
        transient=False,
    ) as progress:
        yield _RichProgress(progress)


def _run_index(config: Config, index_dir: Path, paths: Sequence[Path], rebuild: bool = False):
    from .embedding import make_embedder
    from .index import IndexStore
    from .indexer import Indexer

    indexer = Indexer(config, IndexStore(index_dir), make_embedder(config.embedding.model, config.embedding.backend))
    with _progress_bars() as bars:
        report = indexer.run(paths, progress=bars, rebuild=rebuild)
    _print_report(report)
    return report


def _print_report(report) -> None:
    err = _console()
    for problem in report.problems:
        verb = "skipped" if problem.skipped else "warning"
        err.print(f"[yellow]{verb}[/]: {_escape(problem.source)}: {_escape(problem.reason)}")
    if not report.written:
        err.print(
            f"Index is up to date: {report.documents} documents, {report.chunks} chunks; nothing to embed "
            f"({report.seconds:.1f} s)."
        )
        return
    err.print(
        f"Indexed {report.documents} documents ({report.chunks} chunks) from {report.files_read} files into "
        f"{report.index_dir}: {report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped, {report.merged} merged as duplicates; "
        f"{report.chunks_embedded} passages and {report.sentences_embedded} sentences embedded in {report.seconds:.1f} s."
    )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_dir_option
@click.option("--rebuild", is_flag=True, help="Re-read and re-embed everything instead of updating.")
@click.option("--strict", is_flag=True, help="Exit with code 3 if any file was skipped.")
@click.pass_obj
def index(obj: _Context, paths: tuple[Path, ...], index_dir: Path | None, rebuild: bool, strict: bool) -> None:
    """Index article files and folders (Markdown/text, HTML, JSONL).

    Only new or changed articles are embedded; articles no longer present are removed.
    With no PATH: sources.paths from the config, else the folders indexed last time,
    else the bundled sample articles.
    """
    config = obj.config
    folder, _ = resolve_index_dir(config, index_dir)
    report = _run_index(config, folder, paths, rebuild=rebuild)
    if strict and report.skipped:
        click.echo(f"error: {len(report.skipped)} file(s) skipped (--strict).", err=True)
        sys.exit(EXIT_SKIPPED)


@main.command()
@index_dir_option
@click.pass_obj
def doctor(obj: _Context, index_dir: Path | None) -> None:
    """Check that the index is whole: vectors, passages, documents and manifest agree."""
    from .index import IndexStore, check_index

    folder, _ = resolve_index_dir(obj.config, index_dir)
    report = check_index(IndexStore(folder))
    for fact in report.facts:
        click.echo(f"  {fact}")
    if report.ok:
        click.echo(f"OK: the index at {folder} is consistent.")
        return
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    hint = "sourced index --rebuild" if report.facts else "sourced index"
    click.echo(f"Run `{hint}` to build a whole index.", err=True)
    sys.exit(EXIT_ERROR)


# ---------------------------------------------------------------------------- ask


def _service(config: Config, index_dir: Path | None, build_if_missing: bool = True):
    from .embedding import make_embedder
    from .index import IndexStore
    from .service import QueryService

    folder, chosen = resolve_index_dir(config, index_dir)
    store = IndexStore(folder)
    if not store.exists():
        if chosen and not folder.is_dir():
            raise IndexMissingError(
                f"The index folder {folder} does not exist. Build it with `sourced index --index-dir {folder} PATH`."
            )
        if chosen:
            # Only the default index is built on first use; a chosen folder is the user's to fill.
            raise IndexMissingError(
                f"No index in {folder} yet. Build it with `sourced index --index-dir {folder} PATH`."
            )
        if not build_if_missing:
            raise IndexMissingError(f"No index at {folder} yet. Run `sourced index` to build one.")
        _console().print("No index yet: building one from the collection first (this happens once).")
        _run_index(config, folder, ())
    return QueryService(store, lambda: make_embedder(config.embedding.model, config.embedding.backend), config.search)


def hit_json(hit) -> dict[str, Any]:
    from .highlight import text_fragment_url

    doc = hit.document
    return {
        "rank": hit.rank,
        "score": round(hit.score, 4),
        "similarity": round(hit.similarity, 4),
        "text": hit.text,
        "highlight": hit.highlight,
        "highlight_start": hit.highlight_start,
        "highlight_end": hit.highlight_end,
        "title": doc.title,
        "outlet": doc.outlet,
        "published": doc.published.isoformat() if doc.published else None,
        "url": doc.url,
        "url_highlight": text_fragment_url(doc.url, hit.highlight) if doc.url and hit.highlight else None,
        "source": doc.source,
        "doc_id": doc.id,
        "more_in_document": hit.more_in_document,
        "duplicates": [{"title": d.title, "url": d.url, "source": d.source} for d in hit.duplicates],
    }


def answer_json(answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "answered": answer.answered,
        "hits": [hit_json(h) for h in answer.hits],
        "took_ms": round(answer.took_ms, 2),
    }


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _print_answer(answer) -> None:
    out = _console(stderr=False)
    if not answer.hits:
        out.print("Nothing in the collection matches this question.")
        return
    if not answer.answered:
        out.print("[yellow]No passage answers this well; the closest ones (low confidence):[/]")
    for hit in answer.hits:
        doc = hit.document
        title = _escape(doc.title)
        if doc.url:
            title = f"[link={doc.url}]{title}[/link]"
        out.print(f"\n[bold]{hit.rank}. {title}[/]  [dim]relevance {hit.similarity:.2f}[/]", overflow="fold")
        meta = " · ".join(x for x in (doc.outlet, doc.published.date().isoformat() if doc.published else None) if x)
        if meta:
            out.print(f"   [cyan]{_escape(meta)}[/]")
        # Never wrap a link: a URL broken over two lines no longer opens.
        where = f"   [blue underline]{_escape(doc.url)}[/]" if doc.url else f"   source: {_escape(doc.source)}"
        out.print(where, no_wrap=True, overflow="ignore", crop=False)
        out.print(_indent(_marked(hit)))
        notes = []
        if hit.more_in_document:
            s = "s" if hit.more_in_document > 1 else ""
            notes.append(f"{hit.more_in_document} more passage{s} from this article")
        if hit.duplicates:
            notes.append("same passage also in: " + "; ".join(d.title for d in hit.duplicates))
        if notes:
            out.print(f"   [dim]({_escape('; '.join(notes))})[/]")


def _marked(hit) -> str:
    """The passage with its best-answering sentence in bold."""
    if hit.highlight_start is None:
        return _escape(hit.text)
    a, b = hit.highlight_start, hit.highlight_end
    return _escape(hit.text[:a]) + "[bold yellow]" + _escape(hit.text[a:b]) + "[/]" + _escape(hit.text[b:])


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line else "" for line in text.splitlines())


_DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])


def filter_options(f):
    f = click.option("--source", help="Only articles whose file name or link contains this text.")(f)
    f = click.option("--outlet", help="Only articles from outlets whose name contains this text.")(f)
    f = click.option("--until", type=_DATE, help="Only articles published before this date (YYYY-MM-DD).")(f)
    f = click.option("--since", type=_DATE, help="Only articles published on or after this date (YYYY-MM-DD).")(f)
    return f


def make_filters(since, until, outlet, source):

    from .ranking import Filters

    def utc(value):
        return value.replace(tzinfo=UTC) if value else None

    return Filters(since=utc(since), until=utc(until), outlet=outlet or None, source=source or None)


@main.command()
@click.argument("question")
@click.option("-k", "k", type=click.IntRange(1, 100), help="Number of passages (default: search.k).")
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question (QUESTION '-' reads stdin lines).")
@click.option("--mode", type=click.Choice(MODES), help="Ranking mode (default: search.mode).")
@filter_options
@click.pass_obj
def ask(
    obj: _Context,
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
    from .errors import QuestionError
    from .service import clean_question

    config = obj.config
    if question != "-":
        clean_question(question, config.search.max_question_chars)  # refuse before any slow work
    service = _service(config, index_dir)
    filters = make_filters(since, until, outlet, source)
    if question != "-":
        answer = service.ask(question, k=k, filters=filters, mode=mode)
        if as_json:
            click.echo(json.dumps(answer_json(answer), ensure_ascii=False))
        else:
            _print_answer(answer)
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = service.ask(line, k=k, filters=filters, mode=mode)
        except QuestionError as exc:
            record = {"question": line.strip(), "answered": False, "hits": [], "took_ms": 0.0, "error": str(exc)}
        else:
            record = answer_json(answer)
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(f"\n=== {record['question']}")
            if "error" in record:
                click.echo(f"error: {record['error']}", err=True)
            else:
                _print_answer(answer)


# ---------------------------------------------------------------------------- sources, config


@main.command()
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per document.")
@click.pass_obj
def sources(obj: _Context, index_dir: Path | None, as_json: bool) -> None:
    """List the indexed articles with their links."""
    service = _service(obj.config, index_dir, build_if_missing=False)
    docs = service.documents()
    if as_json:
        for doc in docs:
            click.echo(
                json.dumps(
                    {
                        "doc_id": doc.id,
                        "title": doc.title,
                        "outlet": doc.outlet,
                        "published": doc.published.isoformat() if doc.published else None,
                        "url": doc.url,
                        "source": doc.source,
                    },
                    ensure_ascii=False,
                )
            )
        return
    stats = service.stats()
    out = _console(stderr=False)
    newest = stats.newest.date().isoformat() if stats.newest else "unknown"
    out.print(
        f"{stats.documents} articles, {stats.chunks} passages, {len(stats.outlets)} outlets; newest {newest}. "
        f"Model {stats.model_id}, index {service.store.path}."
    )
    for doc in docs:
        date = doc.published.date().isoformat() if doc.published else "----------"
        where = f"[link={doc.url}]{_escape(doc.url)}[/link]" if doc.url else _escape(doc.source)
        out.print(f"{date}  [bold]{_escape(doc.title)}[/] [cyan]{_escape(doc.outlet or '')}[/]\n            {where}")


@main.command("eval")
@click.argument("questions_file", type=click.Path(dir_okay=False, path_type=Path))
@index_dir_option
@click.option("-k", "k", type=click.IntRange(5, 100), default=5, show_default=True, help="Passages per question.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and every question as JSON.")
@click.pass_obj
def eval_cmd(obj: _Context, questions_file: Path, index_dir: Path | None, k: int, as_json: bool) -> None:
    """Score answers on your own question set (hit@1/3/5, MRR, abstention).

    QUESTIONS_FILE is YAML: a list under `questions:` of `q:` with `expect:` phrases
    and/or `url:`/`source:`, or `off_topic: true` for questions that should not be
    answered. See data/questions.yaml.
    """
    from .evaluation import evaluate, load_questions

    questions = load_questions(questions_file)
    service = _service(obj.config, index_dir)
    report = evaluate(questions, [service.ask(q.q, k=k) for q in questions])
    if as_json:
        click.echo(json.dumps({"summary": report.summary(), "questions": report.rows}, ensure_ascii=False))
        return
    out = _console(stderr=False)
    summary = report.summary()
    out.print(
        f"{summary['questions']} questions: hit@1 {summary['hit@1']:.2f}  hit@3 {summary['hit@3']:.2f}  "
        f"hit@5 {summary['hit@5']:.2f}  MRR {summary['mrr']:.2f}  answered {summary['answered_rate']:.2f}"
    )
    if report.off_topic:
        out.print(
            f"{report.off_topic} off-topic questions: {summary['off_topic_abstention']:.2f} correctly not answered"
        )
    misses = [r for r in report.rows if (r["off_topic"] and r["answered"]) or (not r["off_topic"] and r["rank"] != 1)]
    if misses:
        from rich.table import Table

        table = Table(title="Questions not answered at rank 1")
        for column in ("question", "found at", "answered", "confidence"):
            table.add_column(column)
        for r in misses:
            found = "off-topic" if r["off_topic"] else (str(r["rank"]) if r["rank"] else f"not in top {k}")
            table.add_row(_escape(r["q"]), found, str(r["answered"]), f"{r['confidence']:.2f}")
        out.print(table)


def _state_dir(config: Config) -> Path:
    from .paths import data_dir

    if config.bot.state_dir:
        return resolve_path(config, config.bot.state_dir)
    return data_dir() / "bot"


TOKEN_HELP = (
    "Create a bot at https://discord.com/developers/applications (Bot > Reset Token), then run "
    "`export DISCORD_TOKEN=...` or put DISCORD_TOKEN=... in a .env file in this folder."
)


def _discord_token() -> str | None:
    token = os.environ.get("DISCORD_TOKEN")
    if not token:
        from dotenv import dotenv_values

        token = dotenv_values(Path.cwd() / ".env").get("DISCORD_TOKEN")
    return token.strip() if token and token.strip() else None


@main.command()
@index_dir_option
@click.pass_obj
def serve(obj: _Context, index_dir: Path | None) -> None:
    """Run the Discord bot (needs DISCORD_TOKEN in the environment or a .env file)."""
    import logging

    token = _discord_token()
    if not token:
        _fail(f"DISCORD_TOKEN is not set. {TOKEN_HELP}")
    config = obj.config
    service = _service(config, index_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.app import serve as serve_bot

    from .feedback import FeedbackStore
    from .indexer import Indexer

    def reindex(progress):
        class Progress:
            def reading(self, done, total):
                progress(f"Reading files: {done}/{total}")

            def embedding(self, total):
                self.total, self.done = total, 0
                progress(f"Embedding {total} new passages…")

            def embedded(self, n):
                self.done += n
                progress(f"Embedding passages: {self.done}/{self.total}")

        return Indexer(config, service.store, service.embedder).run((), progress=Progress())

    store = FeedbackStore(_state_dir(config) / "feedback.sqlite")
    serve_bot(service, config.bot, store, reindex, token, token_help=TOKEN_HELP)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def feedback(obj: _Context, as_json: bool) -> None:
    """Summarise the 👍/👎 feedback users gave the bot's answers."""
    from .feedback import FeedbackStore

    path = _state_dir(obj.config) / "feedback.sqlite"
    if not path.is_file():
        _fail(f"No feedback recorded yet ({path} does not exist). Run the bot with `sourced serve`.")
    summary = FeedbackStore(path).summary()
    if as_json:
        click.echo(json.dumps(summary.__dict__, ensure_ascii=False))
        return
    rated = summary.up + summary.down
    share = f"{summary.up / rated:.0%} helpful" if rated else "no votes yet"
    click.echo(
        f"{summary.questions} questions asked, {summary.answered} answered; "
        f"{summary.up} 👍 / {summary.down} 👎 ({share})."
    )
    if summary.worst:
        click.echo("Most disliked answers:")
        for question, up, down in summary.worst:
            click.echo(f"  {down} 👎 {up} 👍  {question}")


@main.group()
def bench() -> None:
    """Benchmarks that print figures (quality and speed)."""


def _cache_root() -> Path:
    from .paths import cache_dir

    return cache_dir() / "bench"


@bench.command("beir")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--mode", "modes", multiple=True, type=click.Choice(MODES), help="Only these modes.")
@click.option("--no-reference", is_flag=True, help="Skip the whole-document rows (saves embedding the corpus twice).")
@click.pass_obj
def bench_beir(
    obj: _Context, folder: Path, split: str, as_json: bool, modes: tuple[str, ...], no_reference: bool
) -> None:
    """Run a BEIR dataset (corpus.jsonl, queries, qrels) through each retrieval mode.

    Prints nDCG@10, Recall@10, Recall@100, MRR@10 and queries/s per mode, beside the
    published reference rows. The corpus index is cached, so later runs take seconds.
    """
    from .beir import run_benchmark
    from .embedding import make_embedder

    config = obj.config
    with _progress_bars() as bars:
        result = run_benchmark(
            folder,
            split,
            config,
            lambda: make_embedder(config.embedding.model, config.embedding.backend),
            _cache_root(),
            modes=modes or ("bm25", "dense", "hybrid"),
            reference_setup=not no_reference,
            progress_factory=lambda: bars,
        )
    if as_json:
        click.echo(json.dumps(result))
        return
    _print_bench_table(result)


@bench.command("speed")
@click.option(
    "--corpus",
    type=click.Path(file_okay=False, path_type=Path),
    help="A BEIR folder (corpus.jsonl) to ingest, e.g. ../shared/benchmarks/scifact. Default: the bundled articles.",
)
@click.option(
    "--docs",
    "max_docs",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Documents of --corpus to ingest.",
)
@click.option(
    "--large",
    "scale_chunks",
    type=click.IntRange(1000),
    default=100_000,
    show_default=True,
    help="Passages in the large index for query latency.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    help="Embedding backend (default: embedding.backend).",
)
@click.option("--json", "as_json", is_flag=True, help="Print all figures as one JSON object.")
@click.pass_obj
def bench_speed(
    obj: _Context, corpus: Path | None, max_docs: int, scale_chunks: int, backend: str | None, as_json: bool
) -> None:
    """Ingest speed vs the bare model, warm query latency, cold `sourced ask`, peak memory."""
    from .embedding import make_embedder
    from .speed import bench_speed as run
    from .speed import with_backend

    config = with_backend(obj.config, backend)
    result = run(
        config,
        lambda: make_embedder(config.embedding.model, config.embedding.backend),
        corpus,
        max_docs,
        obj.config_path,
        scale_chunks,
        log=lambda m: _console().print(f"[dim]{_escape(m)}[/]"),
    )
    if as_json:
        click.echo(json.dumps(result))
        return
    out = _console(stderr=False)
    for key, value in result.items():
        out.print(f"{key:<28} {value}")


@bench.command("scale")
@click.option(
    "--vectors", "n", type=click.IntRange(1000), default=100_000, show_default=True, help="How many 384-d vectors."
)
@click.option(
    "--index",
    "kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="Index types to compare (default: all but hnsw above 300k vectors).",
)
@click.option(
    "--queries", type=click.IntRange(10), default=200, show_default=True, help="Questions timed and checked for recall."
)
@click.option(
    "--corpus",
    type=click.Path(file_okay=False, path_type=Path),
    help="A BEIR folder, e.g. ../shared/benchmarks/scifact: its passage vectors (grown to --vectors "
    "along their neighbours) and its real questions as queries. Embeds the corpus once; cached.",
)
@click.option(
    "--from-index",
    type=click.Path(file_okay=False, path_type=Path),
    help="Use the passage vectors of this index (grown to --vectors) instead of synthetic ones.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.pass_obj
def bench_scale(
    obj: _Context,
    n: int,
    kinds: tuple[str, ...],
    queries: int,
    corpus: Path | None,
    from_index: Path | None,
    as_json: bool,
) -> None:
    """Exact vs approximate FAISS indexes: build time, memory, recall@10, latency.

    Without --corpus or --from-index the vectors are synthetic (clustered, no data
    needed); with --corpus they come from real passages and the queries are real
    questions, the closest to what a large collection will see (docs/scale.md).
    """
    from .index import IndexStore
    from .speed import bench_scale as run

    if corpus and from_index:
        raise click.UsageError("Give --corpus or --from-index, not both.")
    source = questions = None
    if from_index:
        source = IndexStore(from_index).open().embeddings()
    elif corpus:
        from .embedding import make_embedder
        from .speed import corpus_vectors

        config = obj.config
        embedder = make_embedder(config.embedding.model, config.embedding.backend)
        with _progress_bars() as bars:
            source, questions = corpus_vectors(corpus, config, embedder, _cache_root(), bars)
    if not kinds:
        kinds = ("flat", "ivf-flat", "ivf-sq8", "ivf-pq") + (("hnsw",) if n <= 300_000 else ())
    result = run(n, kinds, queries, source, questions, log=lambda m: _console().print(f"[dim]{_escape(m)}[/]"))
    if as_json:
        click.echo(json.dumps(result))
        return
    from rich.table import Table

    table = Table(
        title=f"{result['vectors']:,} {result['data']} ({result['dimension']}-d), "
        f"{result['queries']} queries ({result['query_source']}), 1 thread"
    )
    for column in ("index", "build s", "MB", "MB per 1M", "recall@10", "p50 ms", "p95 ms", "params"):
        table.add_column(column)
    for row in result["rows"]:
        table.add_row(
            row["index"],
            f"{row['build_s']:.1f}",
            f"{row['memory_mb']:.0f}",
            f"{row['memory_mb_per_million']:.0f}",
            f"{row['recall@10']:.3f}",
            f"{row['query_p50_ms']:.2f}",
            f"{row['query_p95_ms']:.2f}",
            json.dumps(row["params"]),
        )
    _console(stderr=False).print(table)
    _console(stderr=False).print(f"index.kind 'auto' picks: {result['auto_choice']}")


def _print_bench_table(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{result['dataset']} ({result['split']} split); sourced ask uses: {result['default']}")
    columns = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "queries_per_s"]
    table.add_column("system")
    for column in columns:
        table.add_column(column, justify="right")
    for row in result["rows"] + result.get("references", []):
        table.add_row(row["system"], *(_fmt(row.get(c)) for c in columns))
    _console(stderr=False).print(table)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if value >= 10 else f"{value:.4f}"


@main.command("config")
@click.option("--yaml", "as_yaml", is_flag=True, help="Print the defaults as a YAML file to start from.")
def config_cmd(as_yaml: bool) -> None:
    """Show every setting with its default and what it does."""
    if as_yaml:
        click.echo(render_default_yaml(), nl=False)
        return
    for row in settings_table():
        default = list(row.default) if isinstance(row.default, tuple) else row.default
        shown = json.dumps(default, ensure_ascii=False)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        click.echo(f"{row.key}  ({row.type_name}, default {shown})\n    {row.help}")


if __name__ == "__main__":  # pragma: no cover
    main()
