"""`sourced sources`: what the collection holds."""

from __future__ import annotations

import json
from pathlib import Path

import click

from retrieval.cli.context import (
    CliContext,
    open_service,
)
from retrieval.cli.options import index_dir_option
from retrieval.cli.render import console, escape


@click.command()
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per document.")
@click.pass_obj
def sources(obj: CliContext, index_dir: Path | None, as_json: bool) -> None:
    """List the indexed articles with their links."""
    service = open_service(obj.config, index_dir, build_if_missing=False)
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
    out = console(stderr=False)
    newest = stats.newest.date().isoformat() if stats.newest else "unknown"
    out.print(
        f"{stats.documents} articles, {stats.chunks} passages, {len(stats.outlets)} outlets; newest {newest}. "
        f"Model {stats.model_id}, index {service.store.path}."
    )
    for doc in docs:
        date = doc.published.date().isoformat() if doc.published else "----------"
        where = f"[link={doc.url}]{escape(doc.url)}[/link]" if doc.url else escape(doc.source)
        out.print(f"{date}  [bold]{escape(doc.title)}[/] [cyan]{escape(doc.outlet or '')}[/]\n            {where}")
