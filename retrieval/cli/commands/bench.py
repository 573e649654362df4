"""`sourced bench beir|speed|scale`: benchmarks that print figures."""

from __future__ import annotations

import json
from pathlib import Path

import click

from retrieval.cli.context import CliContext
from retrieval.cli.progress import progress_bars
from retrieval.cli.render import console, escape, print_bench_table
from retrieval.embedding import BACKENDS
from retrieval.query.ranking import MODES
from retrieval.store.folder.vectors import VECTOR_KINDS
from retrieval.wiring import bench_cache


def _log(message: str) -> None:
    """A benchmark's progress line, dim, on stderr."""
    console().print(f"[dim]{escape(message)}[/]")


def _print_flat(result: dict, as_json: bool) -> None:
    """A flat result as one JSON object, or one `name value` line per figure."""
    if as_json:
        click.echo(json.dumps(result))
        return
    out = console(stderr=False)
    for key, value in result.items():
        out.print(f"{key:<28} {value}")


@click.group()
def bench() -> None:
    """Benchmarks that print figures (quality and speed)."""


@bench.command("beir")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--mode", "modes", multiple=True, type=click.Choice(MODES), help="Only these modes.")
@click.option(
    "--no-reference",
    is_flag=True,
    help="Skip the whole-document rows (saves embedding the corpus twice). They use the untuned "
    "packaged model, as the published rows they are checked against did.",
)
@click.pass_obj
def bench_beir(
    obj: CliContext, folder: Path, split: str, as_json: bool, modes: tuple[str, ...], no_reference: bool
) -> None:
    """Run a BEIR dataset (corpus.jsonl, queries, qrels) through each retrieval mode.

    Prints nDCG@10, Recall@10, Recall@100, MRR@10 and queries/s per mode, beside the
    published reference rows. The corpus index is cached, so later runs take seconds.
    """
    from retrieval.bench.beir import run_benchmark
    from retrieval.embedding import PACKAGED_MODEL, configured_embedder, make_embedder
    from retrieval.embedding.tuned import TUNED

    config = obj.config
    reference = None
    if config.embedding.model in TUNED:
        # The published dense row measured the untuned model: the whole-document rows,
        # which check the pipeline against it, use that model (the passage rows the tuned one).
        def reference():
            return make_embedder(PACKAGED_MODEL, config.embedding.backend)

    with progress_bars() as bars:
        result = run_benchmark(
            folder,
            split,
            config,
            lambda: configured_embedder(config.embedding),
            bench_cache(),
            modes=modes or ("bm25", "dense", "hybrid"),
            reference_setup=not no_reference,
            progress_factory=lambda: bars,
            reference_embedder_factory=reference,
        )
    if as_json:
        click.echo(json.dumps(result))
        return
    print_bench_table(result)


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
    type=click.Choice(BACKENDS.names()),
    help="Embedding backend (default: embedding.backend).",
)
@click.option("--json", "as_json", is_flag=True, help="Print all figures as one JSON object.")
@click.pass_obj
def bench_speed(
    obj: CliContext, corpus: Path | None, max_docs: int, scale_chunks: int, backend: str | None, as_json: bool
) -> None:
    """Ingest speed vs the bare model, warm query latency, cold `sourced ask`, peak memory."""
    from retrieval.bench.speed import bench_speed as run
    from retrieval.bench.speed import with_backend
    from retrieval.embedding import configured_embedder

    config = with_backend(obj.config, backend)
    result = run(
        config,
        lambda: configured_embedder(config.embedding),
        corpus,
        max_docs,
        obj.config_path,
        scale_chunks,
        log=_log,
    )
    _print_flat(result, as_json)


@bench.command("scale")
@click.option(
    "--vectors", "n", type=click.IntRange(1000), default=100_000, show_default=True, help="How many 384-d vectors."
)
@click.option(
    "--index",
    "kinds",
    multiple=True,
    type=click.Choice(VECTOR_KINDS.names()),
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
@click.option(
    "--store",
    metavar="URL",
    help="Also measure pgvector's HNSW in this PostgreSQL database (a scratch table, dropped "
    "after), e.g. the URL `sourced db start` prints.",
)
@click.option("--hnsw-m", type=click.IntRange(2, 100), help="pgvector's m (default: index.hnsw_m).")
@click.option(
    "--hnsw-ef-construction",
    type=click.IntRange(4, 1000),
    help="pgvector's ef_construction (index.hnsw_ef_construction).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.pass_obj
def bench_scale(
    obj: CliContext,
    n: int,
    kinds: tuple[str, ...],
    queries: int,
    corpus: Path | None,
    from_index: Path | None,
    store: str | None,
    hnsw_m: int | None,
    hnsw_ef_construction: int | None,
    as_json: bool,
) -> None:
    """Exact vs approximate FAISS indexes: build time, memory, recall@10, latency.

    Without --corpus or --from-index the vectors are synthetic (clustered, no data
    needed); with --corpus they come from real passages and the queries are real
    questions, the closest to what a large collection will see (docs/scale.md).
    """
    from retrieval.bench.scale import bench_scale as run
    from retrieval.store import FolderStore

    if corpus and from_index:
        raise click.UsageError("Give --corpus or --from-index, not both.")
    source = questions = None
    if from_index:
        source = FolderStore(from_index).open().embeddings()
    elif corpus:
        from retrieval.bench.scale import corpus_vectors
        from retrieval.embedding import configured_embedder

        config = obj.config
        embedder = configured_embedder(config.embedding)
        with progress_bars() as bars:
            source, questions = corpus_vectors(corpus, config, embedder, bench_cache(), bars)
    if not kinds:
        kinds = ("flat", "ivf-flat", "ivf-sq8", "ivf-pq") + (("hnsw",) if n <= 300_000 else ())
    if store:
        from retrieval.bench.pgvector import connect

        connect(store).close()  # an unreachable database is one line before any work
    hnsw = (hnsw_m or obj.config.index.hnsw_m, hnsw_ef_construction or obj.config.index.hnsw_ef_construction)
    result = run(n, kinds, queries, source, questions, log=_log, store=store, hnsw=hnsw)
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
    console(stderr=False).print(table)
    console(stderr=False).print(f"index.kind 'auto' picks: {result['auto_choice']}")


@bench.command("update")
@click.option(
    "--passages", type=click.IntRange(100), default=10_000, show_default=True, help="Passages in the collection."
)
@click.option("--add", "add", type=click.IntRange(1), default=1, show_default=True, help="Articles added to it.")
@click.option("--backend", type=click.Choice(BACKENDS.names()), help="Embedding backend (default: embedding.backend).")
@click.option("--no-rebuild", is_flag=True, help="Skip the full rebuild measured as the baseline.")
@click.option("--json", "as_json", is_flag=True, help="Print all figures as one JSON object.")
@click.pass_obj
def bench_update(
    obj: CliContext, passages: int, add: int, backend: str | None, no_rebuild: bool, as_json: bool
) -> None:
    """Cost of adding articles to a large index (time, disk, latency) beside a full build.

    Builds a collection of about PASSAGES passages (sentences drawn from the bundled
    articles) with the configured model (`embedding.model: hash` measures storage alone),
    adds ADD articles with `sourced add`, and rebuilds it whole as the baseline.
    """
    from retrieval.bench.speed import with_backend
    from retrieval.bench.update import bench_update as run
    from retrieval.embedding import configured_embedder

    config = with_backend(obj.config, backend)
    result = run(
        config,
        lambda: configured_embedder(config.embedding),
        passages,
        add,
        rebuild=not no_rebuild,
        log=_log,
    )
    _print_flat(result, as_json)
