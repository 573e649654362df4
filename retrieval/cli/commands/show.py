"""`sourced show DOC_ID`: one article, cleaned, with its title, outlet, date and link."""

from __future__ import annotations

import json
from pathlib import Path

import click

from retrieval.cli.context import CliContext, open_service
from retrieval.cli.options import index_dir_option
from retrieval.cli.render import console, escape


@click.command()
@click.argument("doc_id")
@click.option("--passages", is_flag=True, help="The article's passages, numbered, as the index holds them.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the article's fields, text and passages.")
@index_dir_option
@click.pass_obj
def show(obj: CliContext, doc_id: str, passages: bool, as_json: bool, index_dir: Path | None) -> None:
    """Print the article DOC_ID (or the start of it) as it was indexed: cleaned text, or
    --passages. Ids are in `ask` ("sourced show ID"), `ask --json` and `sources --json`."""
    from retrieval.query.article import find_article

    service = open_service(obj.config, index_dir, build_if_missing=False)
    article = find_article(service.snapshot(), doc_id)
    doc = article.document
    if as_json:
        from retrieval.jsonout import _date

        passages_json = [
            {"ordinal": c.ordinal, "start": c.start, "end": c.end, "text": c.text} for c in article.passages
        ]
        fields = {"doc_id": doc.id, "title": doc.title, "outlet": doc.outlet, "published": _date(doc.published)}
        fields |= {"url": doc.url, "source": doc.source, "origin": article.origin, "text": doc.text}
        click.echo(json.dumps({**fields, "passages": passages_json}, ensure_ascii=False))
        return
    out = console(stderr=False)
    title = f"[link={doc.url}]{escape(doc.title)}[/link]" if doc.url else escape(doc.title)
    out.print(f"[bold]{title}[/]", overflow="fold")
    meta = " · ".join(x for x in (doc.outlet, doc.published.date().isoformat() if doc.published else None) if x)
    if meta:
        out.print(f"[cyan]{escape(meta)}[/]")
    where = f"[blue underline]{escape(doc.url)}[/]" if doc.url else f"source: {escape(doc.source)}"
    out.print(where, no_wrap=True, overflow="ignore", crop=False)  # a link broken over two lines no longer opens
    n = len(article.passages)
    out.print(f"[dim]id {doc.id} · from {escape(article.origin)} · {n} passage{'s' if n != 1 else ''}[/]")
    if not passages:
        out.print("\n" + escape(doc.text))
        return
    for number, chunk in enumerate(article.passages, start=1):
        out.print(f"\n[bold]Passage {number} of {n}[/]")
        out.print(escape(chunk.text))
