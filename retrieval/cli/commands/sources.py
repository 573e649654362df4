"""`sourced sources`: what the collection holds."""

from __future__ import annotations

import json
from pathlib import Path

import click

from retrieval.cli.context import (
    CliContext,
    open_service,
)
from retrieval.cli.options import collection_options, index_dir_option
from retrieval.cli.render import console, escape
from retrieval.ingest.sources import samples_key
from retrieval.jsonout import collection_json


@click.command()
@index_dir_option
@collection_options
@click.option("--articles", "with_articles", is_flag=True, help="List every article too, with its link.")
@click.option("--json", "as_json", is_flag=True, help='{"sources": [...], "articles": [...]} as one JSON object.')
@click.pass_obj
def sources(obj: CliContext, index_dir: Path | None, with_articles: bool, as_json: bool) -> None:
    """List the registered sources (kind, articles, last sync, problems); --articles lists
    the articles too. --json gives both, as the web desk's /api/sources does."""
    service = open_service(obj.config, index_dir, build_if_missing=False)
    registered, articles = service.collection()
    if as_json:
        click.echo(json.dumps(collection_json(registered, articles), ensure_ascii=False))
        return
    from retrieval.query.service import UNKNOWN_OUTLET

    stats = service.stats()
    out = console(stderr=False)
    newest = f"newest {stats.newest.date().isoformat()}" if stats.newest else "none dated"
    out.print(
        f"{_count(stats.documents, 'article')}, {_count(stats.chunks, 'passage')}, "
        f"{_count(len([o for o in stats.outlets if o != UNKNOWN_OUTLET]), 'outlet')}; {newest}. Model {stats.model_id}, index {service.store.where}."
    )
    samples = samples_key()
    out.print(f"\n[bold]{len(registered)} source{'s' if len(registered) != 1 else ''}[/]")
    for s in registered:
        synced = f"last sync {s.last_sync}" if s.last_sync else "not synced since added"
        problem = f"  [red]problem: {escape(s.problem)}[/]" if s.problem else ""
        name = escape(s.key) + ("  [dim](the sample articles)[/]" if s.key == samples else "")
        out.print(f"  {name}  [dim]({s.kind}, {s.articles} articles, {synced})[/]{problem}")
    if not with_articles:
        if articles:
            out.print("\n[dim]`sourced sources --articles` lists the articles.[/]")
        return
    out.print("\n[bold]Articles[/]")
    for doc, _ in articles:
        date = doc.published.date().isoformat() if doc.published else "----------"
        where = f"[link={doc.url}]{escape(doc.url)}[/link]" if doc.url else escape(doc.source)
        out.print(f"{date}  [bold]{escape(doc.title)}[/] [cyan]{escape(doc.outlet or '')}[/]\n            {where}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
