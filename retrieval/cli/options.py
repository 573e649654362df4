"""Options several commands share: the index folder and the search filters."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import click

from retrieval.config import ENV_INDEX_DIR


def index_dir_option(f):
    return click.option(
        "--index-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Index folder. Default: ${ENV_INDEX_DIR}, else index.dir, else the per-user data folder.",
    )(f)


_DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])


def filter_options(f):
    f = click.option("--source", help="Only articles whose file name or link contains this text.")(f)
    f = click.option("--outlet", help="Only articles from outlets whose name contains this text.")(f)
    f = click.option("--until", type=_DATE, help="Only articles published before this date (YYYY-MM-DD).")(f)
    f = click.option("--since", type=_DATE, help="Only articles published on or after this date (YYYY-MM-DD).")(f)
    return f


def make_filters(since, until, outlet, source):

    from retrieval.query.ranking import Filters

    def utc(value):
        return value.replace(tzinfo=UTC) if value else None

    return Filters(since=utc(since), until=utc(until), outlet=outlet or None, source=source or None)
