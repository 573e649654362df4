"""`sourced index` and `sourced doctor`: build, update and check the index."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from retrieval.cli.context import (
    EXIT_ERROR,
    EXIT_SKIPPED,
    CliContext,
    resolve_index_dir,
    run_index,
)
from retrieval.cli.options import index_dir_option


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_dir_option
@click.option("--rebuild", is_flag=True, help="Re-read and re-embed everything instead of updating.")
@click.option("--strict", is_flag=True, help="Exit with code 3 if any file was skipped.")
@click.pass_obj
def index(obj: CliContext, paths: tuple[Path, ...], index_dir: Path | None, rebuild: bool, strict: bool) -> None:
    """Index article files and folders (Markdown/text, HTML, JSONL).

    Only new or changed articles are embedded; articles no longer present are removed.
    With no PATH: sources.paths from the config, else the folders indexed last time,
    else the bundled sample articles.
    """
    config = obj.config
    folder, _ = resolve_index_dir(config, index_dir)
    report = run_index(config, folder, paths, rebuild=rebuild)
    if strict and report.skipped:
        click.echo(f"error: {len(report.skipped)} file(s) skipped (--strict).", err=True)
        sys.exit(EXIT_SKIPPED)


@click.command()
@index_dir_option
@click.pass_obj
def doctor(obj: CliContext, index_dir: Path | None) -> None:
    """Check that the index is whole: vectors, passages, documents and manifest agree."""
    from retrieval.store import IndexStore, check_index

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
