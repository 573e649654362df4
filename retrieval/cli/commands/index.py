"""Keeping the collection: `sourced index`, `add`, `remove`, `compact`, `rollback`, `doctor`.

Exit status (README "Exit status"): 0 done; 1 an error (one line says which); 2 nothing
that was named could be read; 3 with --strict, when a file or source was skipped.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from retrieval.cli.context import EXIT_ERROR, EXIT_NOTHING_READ, EXIT_SKIPPED, CliContext, fail
from retrieval.cli.options import collection_options, index_dir_option
from retrieval.cli.progress import progress_bars
from retrieval.cli.render import print_report
from retrieval.wiring import make_indexer, resolve_index_dir

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")  # what a typed web address starts with
STRICT_HELP = "Exit with code 3 if any file or source was skipped."


def _fold_note(store) -> None:
    """The one-line notice for an index that does not fold accents (kept so until rebuilt)."""
    from retrieval.store.lexical import unfolded_notice

    try:
        if not store.exists():
            return
        snap = store.open()
    except Exception:  # noqa: BLE001 - a notice never turns a finished sync into an error
        return
    try:
        notice = unfolded_notice(snap.manifest)
    finally:
        snap.close()
    if notice:
        click.echo(notice, err=True)


def _finish(report, named: Sequence[object], strict: bool) -> None:
    """The exit status of a sync: 2 when nothing named (or, with nothing named, nothing at
    all) could be read; 3 with --strict when anything was skipped."""
    from retrieval.ingest.sources import source_key

    keys = {source_key(p) for p in named}
    tried = [s for s in report.sources if s.status not in ("removed", "duplicate") and (not keys or s.key in keys)]
    if tried and all(s.status == "unreadable" for s in tried):
        if len(tried) > 1 or not keys:  # one source named: its own error line already says it all
            what = "nothing that was named" if keys else "no source"
            click.echo(f"error: {what} could be read; nothing else changed.", err=True)
        sys.exit(EXIT_NOTHING_READ)
    # Every source named is registered already: nothing to do, which is not an error.
    if strict and (report.skipped or report.unreadable):
        click.echo(
            f"error: {len(report.skipped)} file(s) and {len(report.unreadable)} source(s) skipped (--strict).",
            err=True,
        )
        sys.exit(EXIT_SKIPPED)


def _no_empty(values: Sequence[str]) -> None:
    """An empty SOURCE is refused: as a path it would mean the current folder, and an unset
    shell variable (`sourced remove "$DIR"`) must not add or drop a whole folder."""
    if any(not v.strip() for v in values):
        fail("an empty SOURCE names no file, folder or address (an unset variable?); nothing changed.")


def _sources(values: Sequence[str]) -> list[Path | str]:
    """Paths as paths; web addresses kept as text (a Path would fold their '//')."""
    from retrieval.ingest.sources import is_web

    _no_empty(values)
    from retrieval.ingest.web import bad_url

    for v in values:
        scheme = _SCHEME.match(v)
        if scheme and scheme.group(1).lower() in ("http", "https") and not Path(v).exists():
            reason = bad_url(v)
            if reason is not None:
                fail(f"{v}: {reason}.")
        if scheme and not is_web(v) and not Path(v).exists():
            fail(
                f"{v}: {scheme.group(1)}:// is not a web address sourced reads (use http:// or https://), "
                "and there is no such file or folder."
            )
    return [v if is_web(v) else Path(v) for v in values]


@click.command()
@click.argument("sources", nargs=-1)
@index_dir_option
@collection_options
@click.option("--rebuild", is_flag=True, help="Re-read and re-embed everything instead of updating.")
@click.option("--strict", is_flag=True, help=STRICT_HELP)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where passages are embedded: this process, or a Ray cluster's actors (docs/scale-out.md).",
)
@click.option("--ray-address", metavar="ADDR", help="A running Ray cluster (host:port); default: start a local one.")
@click.pass_obj
def index(
    obj: CliContext,
    sources: tuple[str, ...],
    index_dir: Path | None,
    rebuild: bool,
    strict: bool,
    engine: str,
    ray_address: str | None,
) -> None:
    """Sync every registered source, adding any SOURCE given (files, folders, or the web
    address of a page, RSS/Atom feed or sitemap).

    Feeds are re-polled and pages re-checked (unchanged ones are not downloaded again).
    Only new or changed articles are embedded; articles gone from a file or folder are
    removed, while articles a feed no longer lists stay. Other sources are never dropped:
    a source that cannot be read keeps its articles until `sourced remove`. With nothing
    registered yet: sources.paths from the config, else the bundled sample articles.
    """
    if ray_address and engine != "ray":
        fail("--ray-address goes with --engine ray.")
    folder, _ = resolve_index_dir(obj.config, index_dir)
    indexer = make_indexer(obj.config, folder, engine, ray_address)
    with progress_bars() as bars:
        report = indexer.run(_sources(sources), progress=bars, rebuild=rebuild)
    print_report(report)
    _fold_note(indexer.store)
    _finish(report, sources, strict)


@click.command()
@click.argument("sources", nargs=-1)
@index_dir_option
@collection_options
@click.option("--strict", is_flag=True, help=STRICT_HELP)
@click.option("--samples", is_flag=True, help="Add the bundled sample articles (again).")
@click.pass_obj
def add(obj: CliContext, sources: tuple[str, ...], index_dir: Path | None, strict: bool, samples: bool) -> None:
    """Register sources and index them (the others are not re-read): files, folders, or the
    web address of an article page, an RSS/Atom feed (each item is fetched as a page) or a
    sitemap.

    The first source of your own added to a collection holding only the sample articles
    replaces them; `--samples` brings them back."""
    if samples:
        from retrieval.paths import bundled_articles

        sources = (*sources, str(bundled_articles()))
    if not sources:
        raise click.UsageError("Name a SOURCE to add (a file, folder or web address), or --samples.")
    folder, _ = resolve_index_dir(obj.config, index_dir)
    indexer = make_indexer(obj.config, folder)
    with progress_bars() as bars:
        report = indexer.add(_sources(sources), progress=bars)
    print_report(report)
    _fold_note(indexer.store)
    _finish(report, sources, strict)


@click.command()
@click.argument("sources", nargs=-1, required=True)
@index_dir_option
@collection_options
@click.pass_obj
def remove(obj: CliContext, sources: tuple[str, ...], index_dir: Path | None) -> None:
    """Drop sources and their articles from the collection (`sourced rollback` undoes it)."""
    _no_empty(sources)
    folder, _ = resolve_index_dir(obj.config, index_dir)
    report = make_indexer(obj.config, folder).remove(sources)
    print_report(report)


@click.command()
@index_dir_option
@collection_options
@click.pass_obj
def compact(obj: CliContext, index_dir: Path | None) -> None:
    """Merge every segment into one and drop deleted passages for good."""
    folder, _ = resolve_index_dir(obj.config, index_dir)
    indexer = make_indexer(obj.config, folder)
    before, after = indexer.compact()
    if indexer.store.kind == "postgresql":
        click.echo(
            f"Compacted {indexer.store.where}: rows no kept generation can see are gone; "
            f"rollback still reaches the last {indexer.store.keep_generations} (index.keep_generations).",
            err=True,
        )
    else:
        click.echo(f"Compacted {folder}: {before} segment(s) -> {after}.", err=True)


@click.command()
@index_dir_option
@collection_options
@click.pass_obj
def rollback(obj: CliContext, index_dir: Path | None) -> None:
    """Return to the previous generation, undoing the last add, remove or sync."""
    from retrieval.store.history import change_of

    folder, _ = resolve_index_dir(obj.config, index_dir)
    indexer = make_indexer(obj.config, folder)
    # What the live generation changed, read before it goes (`sourced history` shows it too).
    name = indexer.store.current_name() if indexer.store.exists() else None
    change = change_of(indexer.store, name) if name else None
    undone, live = indexer.rollback()
    what = f" ({change.action}: {change.summary()})" if change is not None and change.base is not None else ""
    click.echo(f"Rolled back {indexer.store.where}: {undone} undone{what}; {live} is live again.", err=True)


@click.command()
@index_dir_option
@collection_options
@click.pass_obj
def doctor(obj: CliContext, index_dir: Path | None) -> None:
    """Check that the index is whole: vectors, passages, documents and manifest agree."""
    from retrieval.store import check_index
    from retrieval.wiring import open_store

    folder, _ = resolve_index_dir(obj.config, index_dir)
    store = open_store(obj.config, folder)
    report = check_index(store)
    for fact in report.facts:
        click.echo(f"  {fact}")
    if report.ok:
        click.echo(f"OK: the index at {store.where} is consistent.")
        _fold_note(store)
        return
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    from retrieval.store.folder.store import POINTER_FIX

    if all(p.endswith(POINTER_FIX) for p in report.problems):
        sys.exit(EXIT_ERROR)  # only the pointer: its line says what to run
    hint = "sourced index --rebuild" if report.facts else "sourced index"
    click.echo(f"Run `{hint}` to build a whole index.", err=True)
    sys.exit(EXIT_ERROR)
