"""`sourced config`: every setting, its default and what it does."""

from __future__ import annotations

import json

import click

from retrieval.config import render_default_yaml, settings_table


@click.command("config")
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
