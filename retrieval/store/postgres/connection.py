"""Connections to the PostgreSQL store: URLs, one connection per reading thread, the
schema names and the generation numbering every other module of the store shares."""

from __future__ import annotations

import contextlib
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from retrieval.errors import IndexMissingError, SourcedError

if TYPE_CHECKING:
    pass

# Of the tables below; a store written by a later layout is refused. 2: the postings carry
# their passage's length and generations, so BM25 reads one index and no passage rows.
LAYOUT = 2


DEFAULT_SCHEMA = "sourced"


READ_TIMEOUT_MS = 30_000  # one statement of a question


HNSW = (16, 64, 100)  # pgvector's m, ef_construction and hnsw.ef_search (index.hnsw_*)


DOC_COLUMNS = "id, title, text, url, outlet, published, source, parent_id, topics"


class StoreError(SourcedError):
    """The database cannot be reached or used."""


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def state_folder(folder: Path, url: str, schema: str) -> Path:
    """Where a sync keeps its bookkeeping (HTTP cache, source state) for the index in
    ``url``'s database and ``schema``: a folder of its own inside ``folder``, so neither the
    folder store there nor another database or schema shares it."""
    from retrieval.types import stable_hash

    parts = urlsplit(url)
    where = (parts.username or "", (parts.hostname or "").lower(), str(parts.port or 5432), parts.path.strip("/"))
    return Path(folder) / f"postgresql-{stable_hash(*where, schema, length=12)}"


def check_url(url: str) -> None:
    """One line if ``url`` does not name this store (the scheme table is the contract's)."""
    from retrieval.store.base import store_kind

    try:
        kind = store_kind(url, what="The store")
    except SourcedError as exc:
        raise StoreError(str(exc)) from None
    if kind != "postgresql":
        raise StoreError(f"{url!r} is not a PostgreSQL URL (postgresql://user@host:port/db).")


def connect(url: str, autocommit: bool = True):
    """A psycopg connection, or one line saying why not (unreachable, refused, bad
    password, no such database, not a PostgreSQL URL, psycopg not installed)."""
    try:
        import psycopg
    except ModuleNotFoundError:
        raise StoreError("The PostgreSQL store needs psycopg: pip install 'sourced[postgres]'.") from None
    check_url(url)
    try:
        return psycopg.connect(url, connect_timeout=10, autocommit=autocommit)
    except psycopg.Error as exc:
        raise StoreError(f"Cannot connect to {safe_url(url)}: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def schema_for(collection: str) -> str:
    return DEFAULT_SCHEMA if collection in ("", "default") else f"{DEFAULT_SCHEMA}_{collection}"


def visible(alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    return f"{p}added <= %(g)s AND ({p}removed IS NULL OR {p}removed > %(g)s)"


def gen_name(gen: int) -> str:
    return f"gen-{gen:06d}"


def gen_number(name: str) -> int:
    try:
        return int(name.split("-")[1])
    except (IndexError, ValueError):
        raise IndexMissingError(f"{name!r} is not a generation of this store.") from None


class Connections:
    """One connection per thread to one database (psycopg connections are not to be
    shared by threads at once), with pgvector's types registered."""

    def __init__(self, url: str, ef_search: int = HNSW[2]) -> None:
        self.url = url
        self.ef_search = int(ef_search)
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        # A store dropped without close() (a command run in-process, a test) still closes
        # its connections instead of leaving them to psycopg's "deleted while open".
        weakref.finalize(self, close_each, self._all)

    def get(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = connect(self.url)
            try:
                register_vector(conn, self.url)
                conn.execute(f"SET hnsw.ef_search = {self.ef_search}")
                # A question never waits on a stuck server for ever (a write may take long).
                conn.execute(f"SET statement_timeout = {READ_TIMEOUT_MS}")
                # Keep walking the graph until enough rows pass the generation filter (pgvector 0.8).
                conn.execute("SET hnsw.iterative_scan = strict_order")
            except BaseException:
                conn.close()
                raise
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def read(self, query):
        """``query(connection)``, retried once on a new connection when the old one broke
        (the server restarted, a replica was promoted, a proxy dropped idle sessions)."""
        import psycopg

        for attempt in (1, 2):
            conn = self.get()
            try:
                return query(conn)
            except psycopg.errors.QueryCanceled as exc:  # the statement timeout: the server is stuck
                raise StoreError(
                    f"The database at {safe_url(self.url)} did not answer in time ({first_line(exc)})."
                ) from None
            except psycopg.OperationalError:
                if attempt == 2 or not (conn.closed or conn.broken):
                    raise
                self.close_mine()
        raise AssertionError("unreachable")

    def close_mine(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close_all(self) -> None:
        with self._lock:
            close_each(self._all)


def close_each(connections: list[Any]) -> None:
    for conn in connections:
        with contextlib.suppress(Exception):
            conn.close()
    connections.clear()


def register_vector(conn, url: str) -> None:
    try:
        from pgvector.psycopg import register_vector
    except ModuleNotFoundError:
        raise StoreError("The PostgreSQL store needs pgvector's adapter: pip install 'sourced[postgres]'.") from None
    try:
        register_vector(conn)
    except Exception:  # noqa: BLE001 - psycopg raises ProgrammingError when the type is unknown
        raise StoreError(
            f"The database at {safe_url(url)} has no pgvector extension. Run CREATE EXTENSION vector in it "
            "as a superuser (or let sourced create it by connecting once as one)."
        ) from None


def halfvec(vector):
    import numpy as np
    from pgvector import HalfVector

    return HalfVector(np.asarray(vector, dtype=np.float32))
