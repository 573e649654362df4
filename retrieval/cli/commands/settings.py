"""`sourced config`: every setting, its default and what it does."""

from __future__ import annotations

import json

import click

from retrieval.cli.context import CliContext
from retrieval.cli.options import collection_options
from retrieval.config import render_default_yaml, settings_in_force


def _shown(value: object) -> str:
    text = json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


@click.command("config")
@click.option("--yaml", "as_yaml", is_flag=True, help="Print the defaults as a YAML file to start from.")
@click.option("--json", "as_json", is_flag=True, help="Every setting with its value, default and origin, as JSON.")
@collection_options
@click.pass_obj
def config_cmd(obj: CliContext, as_yaml: bool, as_json: bool) -> None:
    """Show every setting: the value in force, where it came from, its default and what it does."""
    if as_yaml:
        click.echo(render_default_yaml(), nl=False)
        return
    rows = settings_in_force(obj.config)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "key": r.info.key,
                        "value": list(r.value) if isinstance(r.value, tuple) else r.value,
                        "default": list(r.info.default) if isinstance(r.info.default, tuple) else r.info.default,
                        "origin": r.origin,
                        "type": r.info.type_name,
                        "help": r.info.help,
                    }
                    for r in rows
                ],
                ensure_ascii=False,
            )
        )
        return
    where = f"settings from {obj.config.file}" if obj.config.file else "no config file: every setting is its default"
    click.echo(f"# {where}")
    for r in rows:
        if r.origin == "default":
            head = f"{r.info.key} = {_shown(r.value)}  ({r.info.type_name}, default)"
        else:
            head = (
                f"{r.info.key} = {_shown(r.value)}  ({r.info.type_name}, {r.origin}; default {_shown(r.info.default)})"
            )
        click.echo(f"{head}\n    {r.info.help}")
