"""`sourced collections`: the named collections, each with its sources and articles."""

from __future__ import annotations

import json

import click

from retrieval.cli.context import CliContext
from retrieval.cli.options import collection_options
from retrieval.cli.render import console, escape


def overview(config) -> list[dict[str, object]]:
    """Every collection these settings know (the default and each named one that has a
    folder): name, where, sources, articles, live generation (None: no index yet)."""
    from retrieval.config import resolve_path
    from retrieval.desk.collections import known_collections
    from retrieval.errors import SourcedError
    from retrieval.wiring import collection_index_dir, default_index_dir, open_store

    default, _ = default_index_dir(config)
    configured = resolve_path(config, config.index.collections_dir) if config.index.collections_dir else None
    rows: list[dict[str, object]] = []
    for name in known_collections(default, configured):
        folder = collection_index_dir(config, name)
        store = open_store(config, folder, reading=True)
        row: dict[str, object] = {"name": name, "where": store.where, "sources": 0, "articles": 0, "generation": None}
        try:
            if store.exists():
                snap = store.open(check_version=False)
                try:
                    row["sources"] = len(snap.sources)
                    row["articles"] = int(snap.manifest.get("documents", 0))
                    row["generation"] = snap.generation
                finally:
                    snap.close()
        except SourcedError as exc:
            row["problem"] = str(exc)
        rows.append(row)
    return rows


@click.command("collections")
@click.option(
    "--json", "as_json", is_flag=True, help='{"collections": [{"name", "where", "sources", "articles", ...}]}.'
)
@collection_options
@click.pass_obj
def collections(obj: CliContext, as_json: bool) -> None:
    """List the collections (the default one and each named one) with their counts.

    `sourced --collection NAME add PATH` makes a new one."""
    config = obj.config
    rows = overview(config)
    if as_json:
        click.echo(json.dumps({"collections": rows}, ensure_ascii=False))
        return
    out = console(stderr=False)
    for row in rows:
        mark = "*" if row["name"] == config.collection else " "
        if row.get("problem"):
            facts = f"[red]problem: {escape(str(row['problem']))}[/]"
        elif row["generation"] is None:
            facts = "no index yet"
        else:
            n, a = row["sources"], row["articles"]
            facts = f"{n} source{'s' if n != 1 else ''}, {a} article{'s' if a != 1 else ''}"
        out.print(f"{mark} {escape(str(row['name']))}  {facts}  [dim]{escape(str(row['where']))}[/]")
