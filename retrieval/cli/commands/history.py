"""`sourced history`: each kept generation with what it added, removed and changed."""

from __future__ import annotations

import json
from pathlib import Path

import click

from retrieval.cli.context import CliContext
from retrieval.cli.options import collection_options, index_dir_option
from retrieval.cli.render import console, escape
from retrieval.wiring import resolve_index_dir

SHOWN = 5  # titles named per generation and kind of change; the rest are counted


@click.command("history")
@index_dir_option
@collection_options
@click.option("--json", "as_json", is_flag=True, help="Every generation and what it changed, as JSON.")
@click.pass_obj
def history(obj: CliContext, index_dir: Path | None, as_json: bool) -> None:
    """Each kept generation (oldest first): what made it, and the articles and sources it
    added, removed and changed. `sourced rollback` undoes the live (last) one."""
    from retrieval.errors import IndexMissingError
    from retrieval.store.history import history as generations
    from retrieval.wiring import open_store

    folder, _ = resolve_index_dir(obj.config, index_dir)
    store = open_store(obj.config, folder, reading=True)
    if not store.exists():
        raise IndexMissingError(f"No index at {store.where} yet. Run `sourced index` to build one.")
    rows = generations(store)
    if as_json:
        click.echo(json.dumps({"generations": [g.to_json() for g in rows]}, ensure_ascii=False))
        return
    out = console(stderr=False)
    for g in rows:
        live = "  [green](live)[/]" if g.live else ""
        when = f"  [dim]{g.created}[/]" if g.created else ""
        out.print(f"[bold]{g.name}[/]{when}  {escape(g.action or '(unknown)')}{live}")
        out.print(f"   {escape(g.summary())}")
        for sign, ids in (("+", g.added), ("-", g.removed), ("~", g.changed)):
            for doc_id in ids[:SHOWN]:
                out.print(f"     {sign} {escape(g.titles.get(doc_id) or doc_id)}")
            if len(ids) > SHOWN:
                out.print(f"     [dim]{sign} … and {len(ids) - SHOWN} more[/]")
