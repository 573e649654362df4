"""Options several commands share: the collection (--config, --collection, --store, also
accepted after the command), the index folder and the search filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from retrieval.cli.context import CliContext
from retrieval.config import ENV_INDEX_DIR


def _on_context(attr: str):
    """A callback that sets ``attr`` on the CliContext when the option is given after the
    command (`sourced ask --collection foo "x"`): it wins over the one before the command."""

    def callback(ctx: click.Context, _param: click.Parameter, value):
        if value is not None:
            obj = ctx.find_object(CliContext)
            if obj is not None:
                setattr(obj, attr, value)
                obj.reset()
        return value

    return callback


def collection_options(f):
    """--config, --collection and --store where people type them: after the command too.
    The group's options (and their environment variables) stay; given here, these win."""
    f = click.option(
        "--store",
        metavar="URL",
        expose_value=False,
        callback=_on_context("store"),
        help="Keep the index in PostgreSQL (postgresql://...) instead of a folder (as `sourced --store`).",
    )(f)
    f = click.option(
        "--collection",
        metavar="NAME",
        expose_value=False,
        callback=_on_context("collection"),
        help="Act on the named collection (as `sourced --collection`).",
    )(f)
    f = click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        expose_value=False,
        callback=_on_context("config_path"),
        help="YAML settings file (as `sourced --config`).",
    )(f)
    return f


def index_dir_option(f):
    return click.option(
        "--index-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Index folder. Default: ${ENV_INDEX_DIR}, else index.dir, else the per-user data folder.",
    )(f)


_WHEN = "YYYY-MM-DD, or YYYY-MM or YYYY for all of it, 7d, 2w, or words such as 'last week'"


def filter_options(f):
    f = click.option("--source", help="Only articles whose file name or link contains this text.")(f)
    f = click.option("--outlet", help="Only articles from outlets whose name contains this text.")(f)
    f = click.option("--until", help=f"Only articles published on or before this day, all of it included ({_WHEN}).")(f)
    f = click.option("--since", help=f"Only articles published on or after this day ({_WHEN}).")(f)
    return f


def as_of_option(f):
    return click.option(
        "--as-of",
        "as_of",
        help=f"Answer as on this day ({_WHEN}): nothing published after it is shown, and recent means "
        "recent then. Default: now.",
    )(f)


def parse_as_of(as_of: str | None) -> datetime | None:
    from retrieval.query.when import as_of_bound

    # `--as-of ""` (an unset shell variable) is refused, not read as "now".
    return as_of_bound(as_of) if as_of is not None else None


def make_filters(since, until, outlet, source, as_of: datetime | None = None):
    """The filters of the options given; dates relative to ``as_of`` (default: now)."""
    from retrieval.errors import QuestionError
    from retrieval.query.ranking import Filters
    from retrieval.query.when import since_bound, until_bound

    # An empty value (`--since "$SINCE"` with SINCE unset) is refused in one line: read as
    # "no limit" it answered from every date, or every outlet, without a word.
    for name, value in (("outlet", outlet), ("source", source)):
        if value is not None and not str(value).strip():
            raise QuestionError(f"The {name} filter is empty; give part of a name, or leave it out.")
    return Filters(
        since=since_bound(since, as_of) if since is not None else None,
        until=until_bound(until, as_of) if until is not None else None,
        outlet=outlet or None,
        source=source or None,
    )
