"""The PostgreSQL store: the index in one database, behind the same interface as the
folder of segments (``IndexStore`` / ``Snapshot``), for collections that outgrow one
machine's memory or must be served by several machines (`--store postgresql://…`).

Everything lives in one schema (``sourced``; ``sourced_<name>`` for a named collection):
documents, passages with their vectors (pgvector ``halfvec``, HNSW by inner product),
sentences with their int8 vectors, and the BM25 postings (term, row, tf). BM25 is
computed from those postings with the same formula and collection-wide statistics as
the local store, so the hybrid ranking is the same on both.

Generations work like MVCC by number: every row says the generation that added it and
the one that removed it (NULL while live). Generation G sees the rows with
``added <= G < removed``. A write is one transaction: it marks what changed as removed,
copies what is new, records the generation's manifest and moves the head, or (if the
process dies, the connection drops or anything fails) none of it happened. Readers keep
the generation they opened until the head moves, as with the folder store. Rows no kept
generation can see are deleted by the write that makes them unreachable.

Reads may go to a streaming replica (``index.read_store``); writes go to the primary.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from retrieval.errors import IndexBusyError, IndexMismatchError, IndexMissingError, IndexWriteError, SourcedError
from retrieval.lexical import DEFAULT_PARAMS, tokenize
from retrieval.store.schema import FORMAT_VERSION, ChunkRecord, SentenceRecord, row_doc
from retrieval.store.segment import SENTENCE_SCALE, SegmentData, quantize_sentences
from retrieval.store.snapshot import ManifestFacts
from retrieval.types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

# Of the tables below; a store written by a later layout is refused. 2: the postings carry
# their passage's length and generations, so BM25 reads one index and no passage rows.
LAYOUT = 2
DEFAULT_SCHEMA = "sourced"
READ_TIMEOUT_MS = 30_000  # one statement of a question
HNSW = (16, 64, 100)  # pgvector's m, ef_construction and hnsw.ef_search (index.hnsw_*)
_DOC_COLUMNS = "id, title, text, url, outlet, published, source, parent_id, topics"


class StoreError(SourcedError):
    """The database cannot be reached or used."""


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def is_store_url(value: str | None) -> bool:
    return bool(value) and str(value).startswith(("postgresql://", "postgres://"))


def connect(url: str, autocommit: bool = True):
    """A psycopg connection, or one line saying why not (unreachable, refused, bad
    password, no such database, not a PostgreSQL URL, psycopg not installed)."""
    try:
        import psycopg
    except ModuleNotFoundError:
        raise StoreError("The PostgreSQL store needs psycopg: pip install 'sourced[postgres]'.") from None
    if not is_store_url(url):
        raise StoreError(f"{url!r} is not a PostgreSQL URL (postgresql://user@host:port/db).")
    try:
        return psycopg.connect(url, connect_timeout=10, autocommit=autocommit)
    except psycopg.Error as exc:
        raise StoreError(f"Cannot connect to {safe_url(url)}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def schema_for(collection: str) -> str:
    return DEFAULT_SCHEMA if collection in ("", "default") else f"{DEFAULT_SCHEMA}_{collection}"


def _visible(alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    return f"{p}added <= %(g)s AND ({p}removed IS NULL OR {p}removed > %(g)s)"


def _gen_name(gen: int) -> str:
    return f"gen-{gen:06d}"


def _gen_number(name: str) -> int:
    try:
        return int(name.split("-")[1])
    except (IndexError, ValueError):
        raise IndexMissingError(f"{name!r} is not a generation of this store.") from None


class _Connections:
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
        weakref.finalize(self, _close_each, self._all)

    def get(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = connect(self.url)
            try:
                _register(conn, self.url)
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
                    f"The database at {safe_url(self.url)} did not answer in time ({_first_line(exc)})."
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
            _close_each(self._all)


def _close_each(connections: list[Any]) -> None:
    for conn in connections:
        with contextlib.suppress(Exception):
            conn.close()
    connections.clear()


def _register(conn, url: str) -> None:
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


def _halfvec(vector):
    import numpy as np
    from pgvector import HalfVector

    return HalfVector(np.asarray(vector, dtype=np.float32))


class PgStore:
    """An index kept in PostgreSQL; the same methods as :class:`IndexStore`.

    ``path``: a local folder for what a sync keeps beside the index (HTTP cache, source
    state); ``read_url``: a replica to read from (default: the primary).
    """

    kind = "postgresql"

    def __init__(
        self,
        url: str,
        path: Path,
        schema: str = DEFAULT_SCHEMA,
        read_url: str | None = None,
        keep_generations: int = 5,
        merge_factor: int = 10,
        hnsw: tuple[int, int, int] = HNSW,
    ) -> None:
        if not is_store_url(url):
            raise StoreError(f"{url!r} is not a PostgreSQL URL (postgresql://user@host:port/db).")
        self.url = url
        self.path = Path(path)
        self.schema = schema
        self.keep_generations = max(2, keep_generations)
        self.merge_factor = merge_factor  # unused: the database has no segments to merge
        self.hnsw = tuple(int(x) for x in hnsw)
        self._readers = _Connections(read_url or url, self.hnsw[2])
        self._writer: Any = None  # the connection holding the writer lock

    def __repr__(self) -> str:
        return f"PgStore({safe_url(self.url)}, schema={self.schema})"

    @property
    def where(self) -> str:
        return f"{safe_url(self.url)} (schema {self.schema})"

    def _q(self, sql: str) -> str:
        return sql.replace("S.", f'"{self.schema}".')

    # ------------------------------------------------------------------ reading

    def _head(self, conn) -> int | None:
        try:
            row = conn.execute(
                self._q("SELECT value FROM S.meta WHERE key = 'head'"),
            ).fetchone()
        except Exception as exc:
            import psycopg

            if isinstance(exc, psycopg.errors.UndefinedTable):
                return None
            if isinstance(exc, psycopg.OperationalError):
                raise  # the connection: the caller may retry on a new one
            if isinstance(exc, psycopg.Error):
                raise StoreError(f"Cannot read the index at {self.where}: {_first_line(exc)}") from None
            raise
        return int(row[0]) if row else None

    def _read(self, query):
        """``query(connection)`` on this thread's reading connection (retried once if it
        broke); any database error is one line."""
        import psycopg

        try:
            return self._readers.read(query)
        except psycopg.OperationalError as exc:
            self._readers.close_mine()  # replaced on the next question
            raise StoreError(f"Lost the connection to {self.where}: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"Cannot read the index in {self.where}: {_first_line(exc)}") from None

    def current_name(self) -> str | None:
        head = self._read(self._head)
        return _gen_name(head) if head is not None else None

    def exists(self) -> bool:
        return self.current_name() is not None

    def open(self, check_version: bool = True) -> PgSnapshot:
        def load(conn) -> PgSnapshot:
            head = self._head(conn)
            if head is None:
                raise IndexMissingError(f"No index in {self.where} yet. Run `sourced index` to build one.")
            return self._snapshot(conn, head, check_version)

        return self._read(load)

    def _snapshot(self, conn, gen: int, check_version: bool = True) -> PgSnapshot:
        layout = self._layout(conn)
        if check_version and layout is not None and layout < LAYOUT:
            raise IndexMismatchError(
                f"The index in {self.where} was written by an earlier version of sourced. "
                "Run `sourced index` once to update it (nothing is embedded again)."
            )
        row = conn.execute(self._q("SELECT manifest FROM S.generations WHERE gen = %s"), (gen,)).fetchone()
        if row is None:
            raise IndexMissingError(f"The index in {self.where} is damaged: generation {gen} has no manifest.")
        manifest = row[0]
        if check_version and manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"The index in {self.where} has format version {manifest.get('format_version')}, "
                f"this version of sourced reads {FORMAT_VERSION}. Run `sourced index --rebuild`."
            )
        return PgSnapshot(self, gen, manifest)

    def generations(self) -> list[str]:
        try:
            rows = self._readers.get().execute(self._q("SELECT gen FROM S.generations ORDER BY gen")).fetchall()
        except Exception:  # noqa: BLE001 - no tables yet
            return []
        return [_gen_name(r[0]) for r in rows]

    def close(self) -> None:
        self._readers.close_all()

    # ------------------------------------------------------------------ the writer lock

    @contextlib.contextmanager
    def writer_lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the store's writer lock (a PostgreSQL advisory lock, released if this
        process dies), or raise :class:`IndexBusyError` once ``wait_seconds`` pass."""
        if self._writer is not None:
            yield  # re-entered by the same writer
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)  # the sync state's folder
        except OSError as exc:
            raise IndexWriteError(f"Cannot create the folder {self.path}: {exc.strerror or exc}.") from None
        conn = connect(self.url)
        try:
            self._require_pgvector(conn)  # before a sync reads or embeds anything
        except BaseException:
            conn.close()
            raise
        key = f"sourced:{self.schema}"
        deadline = time.monotonic() + wait_seconds
        try:
            while not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()[0]:
                if time.monotonic() >= deadline:
                    raise IndexBusyError(
                        f"The index in {self.where} is being written by another process; "
                        "wait for it to finish and try again."
                    )
                time.sleep(0.2)
            self._upgrade(conn)  # an index of an earlier layout is brought up to date first
            self._writer = conn
            try:
                yield
            finally:
                self._writer = None
        finally:
            conn.close()  # ends the session, and with it the lock

    @contextlib.contextmanager
    def _write_connection(self) -> Iterator[Any]:
        if self._writer is not None:
            yield self._writer
            return
        conn = connect(self.url)
        try:
            yield conn
        finally:
            conn.close()

    # ------------------------------------------------------------------ writing

    def write(
        self,
        documents: Sequence[Document],
        chunks: Sequence[ChunkRecord],
        embeddings: np.ndarray,
        manifest: dict[str, Any],
        texts: Sequence[str] | None = None,
        sentences: Sequence[SentenceRecord] = (),
        sentence_vectors: np.ndarray | None = None,
        origins: Sequence[str] | None = None,
    ) -> PgSnapshot:
        """Replace the whole index (as :meth:`IndexStore.write`)."""
        from retrieval.store.writer import replace_all

        change = replace_all(documents, chunks, embeddings, manifest, texts, sentences, sentence_vectors, origins)
        return self.commit(self.open() if self.exists() else None, change, manifest)

    def commit(self, previous: PgSnapshot | None, change: Any, settings: dict[str, Any]) -> PgSnapshot:
        """Write the generation ``change`` makes of ``previous`` in one transaction."""
        import psycopg

        lexical = {**DEFAULT_PARAMS, **(settings.get("lexical") or {})}
        dimension = int(settings["dimension"])
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexWriteError(f"Cannot create the folder {self.path}: {exc.strerror or exc}.") from None
        try:
            with self._write_connection() as conn:
                with conn.transaction():
                    made = self._ensure_tables(conn, dimension)
                    gen = self._apply(conn, previous, change, settings, lexical)
                    if made:
                        self._index_vectors(conn)
                self._tidy(conn)
                return self._snapshot(self._readers.get() if self._same_server() else conn, gen)
        except psycopg.Error as exc:
            raise IndexWriteError(
                f"Could not write the index in {self.where} ({_first_line(exc)}); the previous index is unchanged."
            ) from None

    def _tidy(self, conn) -> None:
        """VACUUM what the write changed, now rather than when autovacuum gets to it: BM25
        reads the postings by an index-only scan, which is only index-only (1.5 ms instead
        of 44 ms for a SciFact question) once the visibility map covers the new rows.
        Best effort: a role that may not vacuum still has a working index."""
        import psycopg

        try:
            conn.execute(self._q("VACUUM (ANALYZE) S.terms, S.chunks, S.sentences, S.documents"))
        except psycopg.Error:
            pass

    def _same_server(self) -> bool:
        return self._readers.url == self.url

    def compact(self, previous: PgSnapshot, settings: dict[str, Any]) -> PgSnapshot:
        """Drop every row only older generations can see (no rollback past this point)."""
        import psycopg

        try:
            with self._write_connection() as conn, conn.transaction():
                self._purge(conn, previous.gen)
        except psycopg.Error as exc:
            raise IndexWriteError(f"Could not compact the index in {self.where} ({_first_line(exc)}).") from None
        return self.open()

    def rollback(self) -> tuple[str, str]:
        """Make the generation the live one was made from live again; the undone one is deleted."""
        from retrieval.store.writer import NothingToUndo

        with self._write_connection() as conn, conn.transaction():
            head = self._head(conn)
            if head is None:
                raise IndexMissingError(f"No index in {self.where} yet: nothing to roll back.")
            manifest = conn.execute(self._q("SELECT manifest FROM S.generations WHERE gen = %s"), (head,)).fetchone()[0]
            parent = manifest.get("parent")
            known = (
                parent
                and conn.execute(
                    self._q("SELECT 1 FROM S.generations WHERE gen = %s"), (_gen_number(parent),)
                ).fetchone()
            )
            if not known:
                raise NothingToUndo(
                    f"Nothing to roll back to: {_gen_name(head)} is the oldest generation kept "
                    f"(index.keep_generations keeps {self.keep_generations})."
                )
            for table in ("terms", "sentences", "chunks", "documents"):
                conn.execute(self._q(f"DELETE FROM S.{table} WHERE added = %s"), (head,))
                conn.execute(self._q(f"UPDATE S.{table} SET removed = NULL WHERE removed = %s"), (head,))
            conn.execute(self._q("DELETE FROM S.generations WHERE gen = %s"), (head,))
            conn.execute(self._q("UPDATE S.meta SET value = %s WHERE key = 'head'"), (json.dumps(_gen_number(parent)),))
        return _gen_name(head), parent

    # ------------------------------------------------------------------ internals

    def _require_pgvector(self, conn) -> None:
        import psycopg

        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
            return
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            raise StoreError(
                f"The database at {safe_url(self.url)} has no pgvector extension and this role cannot create "
                f"it ({_first_line(exc)}). Ask its administrator to run CREATE EXTENSION vector."
            ) from None

    def _ensure_tables(self, conn, dimension: int) -> bool:
        """Make the schema's tables if they are not there; True when they were just made."""
        self._require_pgvector(conn)
        _register(conn, self.url)
        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'meta'", (self.schema,)
        ).fetchone()
        if exists:
            layout = conn.execute(self._q("SELECT value FROM S.meta WHERE key = 'layout'")).fetchone()
            if layout and int(layout[0]) > LAYOUT:
                raise IndexMismatchError(
                    f"The index in {self.where} was written by a later version of sourced (layout {layout[0]})."
                )
            self._upgrade(conn)
            stored = conn.execute(self._q("SELECT value FROM S.meta WHERE key = 'dimension'")).fetchone()
            if stored and int(stored[0]) != dimension:
                # A rebuild with a model of another size: the old vectors cannot share the column.
                conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
            else:
                return False
        conn.execute(
            self._q(
                f"""
            CREATE SCHEMA IF NOT EXISTS "{self.schema}";
            CREATE TABLE S.meta (key text PRIMARY KEY, value jsonb NOT NULL);
            CREATE SEQUENCE S.gen_seq;
            CREATE SEQUENCE S.row_seq MINVALUE 0 START 0;
            CREATE SEQUENCE S.sentence_seq MINVALUE 0 START 0;
            CREATE TABLE S.generations (gen integer PRIMARY KEY, manifest jsonb NOT NULL);
            CREATE TABLE S.documents (
                id text NOT NULL, added integer NOT NULL, removed integer,
                title text NOT NULL, text text NOT NULL, url text, outlet text, published text,
                source text NOT NULL, parent_id text, topics text NOT NULL, content_hash text NOT NULL,
                origin text NOT NULL, signature bytea NOT NULL,
                PRIMARY KEY (id, added)
            );
            CREATE TABLE S.chunks (
                row bigint PRIMARY KEY, doc_id text NOT NULL, added integer NOT NULL, removed integer,
                ordinal integer NOT NULL, start integer NOT NULL, "end" integer NOT NULL,
                embed_hash text NOT NULL, length integer NOT NULL, embedding halfvec({dimension}) NOT NULL
            );
            CREATE INDEX ON S.chunks (doc_id);
            CREATE TABLE S.sentences (
                row bigint PRIMARY KEY, doc_id text NOT NULL, added integer NOT NULL, removed integer,
                start integer NOT NULL, "end" integer NOT NULL, hash text NOT NULL, tokens text NOT NULL,
                embedding bytea NOT NULL
            );
            CREATE INDEX ON S.sentences (doc_id, start);
            CREATE TABLE S.terms (
                term text NOT NULL, row bigint NOT NULL, tf integer NOT NULL,
                length integer NOT NULL, added integer NOT NULL, removed integer
            );
            CREATE INDEX terms_lookup ON S.terms (term) INCLUDE (row, tf, length, added, removed);
            CREATE INDEX ON S.terms (row);
            """
            )
        )
        conn.execute(
            self._q("INSERT INTO S.meta VALUES ('layout', %s), ('dimension', %s)"),
            (json.dumps(LAYOUT), json.dumps(dimension)),
        )
        return True

    def _layout(self, conn) -> int | None:
        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'meta'", (self.schema,)
        ).fetchone()
        if not exists:
            return None
        row = conn.execute(self._q("SELECT value FROM S.meta WHERE key = 'layout'")).fetchone()
        return int(row[0]) if row else None

    def _upgrade(self, conn) -> None:
        if self._layout(conn) == 1:
            with conn.transaction():
                self._upgrade_from_1(conn)

    def _upgrade_from_1(self, conn) -> None:
        """Layout 1 kept (term, row, tf) only: copy each passage's length and generations
        into its postings (inside the write's transaction, like everything else)."""
        conn.execute(
            self._q(
                """
            ALTER TABLE S.terms ADD COLUMN length integer, ADD COLUMN added integer, ADD COLUMN removed integer;
            UPDATE S.terms t SET length = c.length, added = c.added, removed = c.removed
                FROM S.chunks c WHERE c.row = t.row;
            ALTER TABLE S.terms ALTER COLUMN length SET NOT NULL, ALTER COLUMN added SET NOT NULL;
            DROP INDEX IF EXISTS S.terms_term_row_tf_idx;
            CREATE INDEX terms_lookup ON S.terms (term) INCLUDE (row, tf, length, added, removed);
            """
            )
        )
        conn.execute(self._q("UPDATE S.meta SET value = %s WHERE key = 'layout'"), (json.dumps(LAYOUT),))

    def _index_vectors(self, conn) -> None:
        """Build the HNSW index once the first rows are in: one build over the whole first
        load is many times faster than growing the graph row by row during the COPY."""
        rows = conn.execute(self._q("SELECT count(*) FROM S.chunks")).fetchone()[0]
        # The graph must fit in maintenance memory, or the build slows down many times over.
        work_mb = max(64, min(8192, int(rows * 2.2 * self.hnsw[0] / 16 / 1024) + 64))
        conn.execute(f"SET LOCAL maintenance_work_mem = '{work_mb}MB'")
        m, ef_construction, _ = self.hnsw
        conn.execute(
            self._q(
                "CREATE INDEX chunks_hnsw ON S.chunks USING hnsw (embedding halfvec_ip_ops) "
                f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
            )
        )

    def _apply(self, conn, previous, change, settings: dict[str, Any], lexical: dict[str, Any]) -> int:
        import numpy as np

        from retrieval.dedup import signatures

        gen = int(conn.execute(self._q("SELECT nextval('S.gen_seq')")).fetchone()[0])
        head = self._head(conn)
        tables = ("documents", "chunks", "sentences", "terms")
        if change.replace_all:
            for table in tables:
                conn.execute(self._q(f"UPDATE S.{table} SET removed = %s WHERE removed IS NULL"), (gen,))
        elif change.deletions:
            ids = sorted(change.deletions)
            conn.execute(
                self._q("UPDATE S.documents SET removed = %s WHERE removed IS NULL AND id = ANY(%s)"), (gen, ids)
            )
            for table in tables[1:3]:
                conn.execute(
                    self._q(f"UPDATE S.{table} SET removed = %s WHERE removed IS NULL AND doc_id = ANY(%s)"), (gen, ids)
                )
            conn.execute(
                self._q(
                    "UPDATE S.terms SET removed = %s WHERE removed IS NULL "
                    "AND row IN (SELECT row FROM S.chunks WHERE removed = %s AND doc_id = ANY(%s))"
                ),
                (gen, gen, ids),
            )
        data: SegmentData | None = change.new
        if data is not None and (data.documents or data.chunks):
            if len(data.chunks) != len(data.vectors) or len(data.sentences) != len(data.sentence_vectors):
                raise ValueError("one vector per chunk and per sentence is required")
            minhash = data.signatures if data.signatures is not None else signatures([d.text for d in data.documents])
            minhash = np.ascontiguousarray(minhash, dtype=np.uint32)
            with conn.cursor().copy(
                self._q(
                    "COPY S.documents (id, added, title, text, url, outlet, published, source, parent_id, "
                    "topics, content_hash, origin, signature) FROM STDIN"
                )
            ) as copy:
                from retrieval.store.schema import doc_row

                for doc, origin, sig in zip(data.documents, data.origins, minhash, strict=True):
                    row = doc_row(doc, origin)
                    copy.write_row((row[0], gen, *row[1:], sig.tobytes()))
            texts = data.texts
            if texts is None:
                by_id = {d.id: d for d in data.documents}
                texts = [by_id[c.doc_id].text[c.start : c.end] for c in data.chunks]
            rows = self._take(conn, "row_seq", len(data.chunks))
            tokens = tokenize(list(texts), lexical)
            vectors = np.asarray(data.vectors, dtype=np.float32).reshape(len(data.chunks), int(settings["dimension"]))
            with conn.cursor().copy(
                self._q(
                    'COPY S.chunks (row, doc_id, added, ordinal, start, "end", embed_hash, length, embedding) '
                    "FROM STDIN (FORMAT BINARY)"
                )
            ) as copy:
                copy.set_types(["int8", "text", "int4", "int4", "int4", "int4", "text", "int4", "halfvec"])
                for row, c, words, vector in zip(rows, data.chunks, tokens, vectors, strict=True):
                    copy.write_row(
                        (row, c.doc_id, gen, c.ordinal, c.start, c.end, c.embed_hash, len(words), _halfvec(vector))
                    )
            with conn.cursor().copy(self._q("COPY S.terms (term, row, tf, length, added) FROM STDIN")) as copy:
                for row, words in zip(rows, tokens, strict=True):
                    for term, tf in Counter(words).items():
                        copy.write_row((term, row, tf, len(words), gen))
            sentence_tokens = data.sentence_tokens
            if sentence_tokens is None:
                by_id = {d.id: d for d in data.documents}
                sentence_texts = [by_id[x.doc_id].text[x.start : x.end] for x in data.sentences]
                sentence_tokens = [" ".join(t) for t in tokenize(sentence_texts, lexical)]
            quantized = quantize_sentences(data.sentence_vectors).reshape(len(data.sentences), vectors.shape[1])
            srows = self._take(conn, "sentence_seq", len(data.sentences))
            with conn.cursor().copy(
                self._q('COPY S.sentences (row, doc_id, added, start, "end", hash, tokens, embedding) FROM STDIN')
            ) as copy:
                for row, x, words, vector in zip(srows, data.sentences, sentence_tokens, quantized, strict=True):
                    copy.write_row((row, x.doc_id, gen, x.start, x.end, x.hash, words, vector.tobytes()))
        live_docs = conn.execute(
            self._q(f"SELECT count(*) FROM S.documents WHERE {_visible()}"), {"g": gen}
        ).fetchone()[0]
        live_rows, length = conn.execute(
            self._q(f"SELECT count(*), coalesce(sum(length), 0) FROM S.chunks WHERE {_visible()}"), {"g": gen}
        ).fetchone()
        limit = conn.execute(self._q("SELECT coalesce(max(row), -1) + 1 FROM S.chunks")).fetchone()[0]
        sources = change.sources if change.sources is not None else (previous.sources if previous else [])
        manifest = {
            **{k: v for k, v in settings.items() if k not in ("segments", "sources", "parent")},
            "format_version": FORMAT_VERSION,
            "store": "postgresql",
            "lexical": lexical,
            "segments": [],
            "sources": sources,
            "documents": int(live_docs),
            "chunks": int(live_rows),
            "length": int(length),
            "rows": int(limit),
            "parent": _gen_name(head) if head is not None and previous is not None else None,
            "action": change.action or settings.get("action", ""),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        conn.execute(self._q("INSERT INTO S.generations VALUES (%s, %s)"), (gen, json.dumps(manifest)))
        conn.execute(
            self._q("INSERT INTO S.meta VALUES ('head', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"),
            (json.dumps(gen),),
        )
        kept = conn.execute(
            self._q("SELECT gen FROM S.generations ORDER BY gen DESC LIMIT 1 OFFSET %s"), (self.keep_generations - 1,)
        ).fetchone()
        if kept is not None:
            self._purge(conn, int(kept[0]))
        return gen

    def _take(self, conn, sequence: str, n: int) -> list[int]:
        if n == 0:
            return []
        rows = conn.execute(self._q(f"SELECT nextval('S.{sequence}') FROM generate_series(1, %s)"), (n,)).fetchall()
        return [int(r[0]) for r in rows]

    def _purge(self, conn, oldest: int) -> None:
        """Delete rows no generation from ``oldest`` on can see, and older generations."""
        for table in ("terms", "chunks", "sentences", "documents"):
            conn.execute(self._q(f"DELETE FROM S.{table} WHERE removed <= %s"), (oldest,))
        conn.execute(self._q("DELETE FROM S.generations WHERE gen < %s"), (oldest,))

    def check(self) -> tuple[list[str], list[str]]:
        """(facts, problems) of the live generation, for `sourced doctor`."""
        import numpy as np

        snap = self.open()
        conn = self._readers.get()
        g = {"g": snap.gen}
        m = snap.manifest
        facts = [
            f"live generation {snap.generation} in {self.where}, built {m.get('created')} with "
            f"{m.get('model_id')} ({m.get('dimension')} dims)",
            f"{m.get('documents')} documents, {m.get('chunks')} passages; {len(snap.sources)} source(s); "
            f"{len(self.generations()) - 1} earlier generation(s) to roll back to",
        ]
        problems = []

        def count(sql: str) -> int:
            return int(conn.execute(self._q(sql), g).fetchone()[0])

        docs = count(f"SELECT count(*) FROM S.documents WHERE {_visible()}")
        chunks = count(f"SELECT count(*) FROM S.chunks WHERE {_visible()}")
        if docs != m.get("documents"):
            problems.append(f"manifest says {m.get('documents')} documents, the database holds {docs} live")
        if chunks != m.get("chunks"):
            problems.append(f"manifest says {m.get('chunks')} passages, the database holds {chunks} live")
        orphans = count(
            f"SELECT count(*) FROM S.chunks c WHERE {_visible('c')} AND NOT EXISTS "
            f"(SELECT 1 FROM S.documents d WHERE d.id = c.doc_id AND {_visible('d')})"
        )
        if orphans:
            problems.append(f"{orphans} passages belong to no live document")
        bad = count(
            f"SELECT count(*) FROM S.chunks c JOIN S.documents d ON d.id = c.doc_id AND {_visible('d')} "
            f'WHERE {_visible("c")} AND (c.start < 0 OR c."end" > length(d.text) OR c.start >= c."end")'
        )
        if bad:
            problems.append(f"{bad} passages have offsets outside their document")
        sample = conn.execute(
            self._q(f"SELECT embedding FROM S.chunks WHERE {_visible()} ORDER BY row LIMIT 64"), g
        ).fetchall()
        if sample:
            vectors = np.stack([r[0].to_numpy().astype(np.float32) for r in sample])
            if vectors.shape[1] != snap.dimension:
                problems.append(f"stored vectors have {vectors.shape[1]} dimensions, expected {snap.dimension}")
            elif not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=5e-3):
                problems.append("stored vectors are not unit length")
        untermed = count(
            f"SELECT count(*) FROM S.chunks c WHERE {_visible('c')} AND c.length > 0 AND NOT EXISTS "
            "(SELECT 1 FROM S.terms t WHERE t.row = c.row)"
        )
        if untermed:
            problems.append(f"{untermed} passages have no BM25 postings")
        hnsw = conn.execute(
            "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = 'chunks_hnsw'", (self.schema,)
        ).fetchone()
        if not hnsw:
            problems.append("the passages' HNSW index is missing (searches scan every vector)")
        return facts, problems


class PgSnapshot(ManifestFacts):
    """One generation of a :class:`PgStore`, read through the store's per-thread connections."""

    segments: Sequence[Any] = ()

    def __init__(self, store: PgStore, gen: int, manifest: dict[str, Any]) -> None:
        self.store = store
        self.gen = gen
        self.manifest = manifest
        self.path = store.path
        self._args = {"g": gen}
        self._lexical: PgBM25 | None = None
        self._document_index: dict[str, tuple[str, str, int]] | None = None
        self.rows = int(manifest.get("rows", 0))

    def _q(self, sql: str) -> str:
        return self.store._q(sql)

    def _all(self, sql: str, args: dict[str, Any] | None = None, binary: bool = False) -> list[tuple]:
        """Rows of ``sql`` at this generation; ``binary`` results for vectors (pgvector's
        text form costs a Python float per number to parse)."""
        params = {**self._args, **(args or {})}
        return self.store._read(lambda conn: conn.execute(self._q(sql), params, binary=binary).fetchall())

    # ------------------------------------------------------------------ what it is

    @property
    def generation(self) -> str:
        return _gen_name(self.gen)

    @property
    def segment_count(self) -> int:
        return 0

    # ------------------------------------------------------------------ search

    def search(self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        if self.chunk_count == 0 or n <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        q = _halfvec(vector)
        if allowed is not None:
            # A filter: score exactly the rows it allows (ordered by an expression the
            # HNSW index cannot serve, so the planner reads those rows, not the graph).
            found = self._all(
                f"SELECT row, -(embedding <#> %(q)s) FROM S.chunks WHERE row = ANY(%(rows)s) AND {_visible()} "
                "ORDER BY -(embedding <#> %(q)s) DESC, row LIMIT %(n)s",
                {"q": q, "rows": [int(r) for r in allowed], "n": n},
            )
        else:
            found = self._all(
                f"SELECT row, -(embedding <#> %(q)s) FROM S.chunks WHERE {_visible()} "
                "ORDER BY embedding <#> %(q)s LIMIT %(n)s",
                {"q": q, "n": n},
            )
        out = [(int(r), float(s)) for r, s in found]
        out.sort(key=lambda x: (-x[1], x[0]))
        return out

    @property
    def lexical(self) -> PgBM25:
        if self._lexical is None:
            self._lexical = PgBM25(self)
        return self._lexical

    def _stored(self, table: str, rows: Sequence[int], decode) -> np.ndarray:
        """The ``embedding`` of ``rows`` in ``table`` (read in binary), in the order asked;
        zeros for rows it does not hold."""
        import numpy as np

        wanted = [int(r) for r in np.asarray(rows).reshape(-1)]
        sql = f"SELECT row, embedding FROM S.{table} WHERE row = ANY(%(rows)s)"
        found = dict(self._all(sql, {"rows": wanted}, binary=True))
        out = np.zeros((len(wanted), self.dimension), dtype=np.float32)
        for i, row in enumerate(wanted):
            if row in found:
                out[i] = decode(found[row])
        return out

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        return self._stored("chunks", rows, lambda v: v.to_numpy())

    def sentence_vectors(self, rows: Sequence[int]) -> np.ndarray:
        import numpy as np

        return self._stored("sentences", rows, lambda v: np.frombuffer(v, dtype=np.int8)) / SENTENCE_SCALE

    def stored_vectors(self, refs: Sequence[tuple[int, int]], sentences: bool = False) -> np.ndarray:
        """Vectors by the (0, row) references :meth:`stored_records` gives."""
        rows = [row for _, row in refs]
        return self.sentence_vectors(rows) if sentences else self.vectors(rows)

    # ------------------------------------------------------------------ metadata

    def signatures(self, doc_ids: Iterable[str]) -> dict[str, np.ndarray]:
        import numpy as np

        rows = self._all(
            f"SELECT id, signature FROM S.documents WHERE id = ANY(%(ids)s) AND {_visible()}", {"ids": list(doc_ids)}
        )
        return {doc_id: np.frombuffer(sig, dtype=np.uint32) for doc_id, sig in rows}

    def chunk_refs(self, rows: Sequence[int]) -> dict[int, tuple[str, int, int, int]]:
        found = self._all(
            f'SELECT row, doc_id, ordinal, start, "end" FROM S.chunks WHERE row = ANY(%(rows)s) AND {_visible()}',
            {"rows": [int(r) for r in rows]},
        )
        return {int(r): (d, o, s, e) for r, d, o, s, e in found}

    def chunks(self, rows: Sequence[int]) -> dict[int, tuple[Chunk, Document]]:
        refs = self.chunk_refs(rows)
        docs = {d.id: d for d in self.documents({doc_id for doc_id, *_ in refs.values()})}
        return {
            row: (Chunk(doc_id, ordinal, docs[doc_id].text[start:end], start, end), docs[doc_id])
            for row, (doc_id, ordinal, start, end) in refs.items()
            if doc_id in docs
        }

    def documents(self, ids: Iterable[str] | None = None) -> list[Document]:
        """Live documents, newest first (then by title)."""
        if ids is None:
            rows = self._all(f"SELECT {_DOC_COLUMNS} FROM S.documents WHERE {_visible()}")
        else:
            rows = self._all(
                f"SELECT {_DOC_COLUMNS} FROM S.documents WHERE id = ANY(%(ids)s) AND {_visible()}", {"ids": list(ids)}
            )
        docs = [row_doc(r) for r in rows]
        docs.sort(key=lambda d: (d.published is None, -(d.published.timestamp() if d.published else 0), d.title))
        return docs

    def document_index(self) -> dict[str, tuple[str, str, int]]:
        if self._document_index is None:
            rows = self._all(f"SELECT id, content_hash, origin FROM S.documents WHERE {_visible()}")
            self._document_index = {doc_id: (h, origin, 0) for doc_id, h, origin in rows}
        return self._document_index

    def rows_where(self, since: str | None, until: str | None, outlet: str | None, source: str | None) -> np.ndarray:
        import numpy as np

        from retrieval.store.schema import like_pattern

        clauses, args = [], {}
        if since:
            clauses.append("d.published >= %(since)s")
            args["since"] = since
        if until:
            clauses.append("d.published < %(until)s")
            args["until"] = until
        if outlet:
            clauses.append("lower(coalesce(d.outlet, '')) LIKE %(outlet)s")
            args["outlet"] = f"%{like_pattern(outlet.lower())}%"
        if source:
            clauses.append("(lower(d.source) LIKE %(source)s OR lower(coalesce(d.url, '')) LIKE %(source)s)")
            args["source"] = f"%{like_pattern(source.lower())}%"
        where = " AND ".join([_visible("c"), _visible("d"), *clauses])
        found = self._all(f"SELECT c.row FROM S.chunks c JOIN S.documents d ON d.id = c.doc_id WHERE {where}", args)
        return np.array(sorted(r[0] for r in found), dtype=np.int64)

    def sentences_in(self, spans: Sequence[tuple[int, str, int, int]]) -> list[list[tuple[int, int, int, str]]]:
        out: list[list[tuple[int, int, int, str]]] = [[] for _ in spans]
        if not spans:
            return out
        found = self._all(
            'SELECT s.i, x.row, x.start, x."end", x.tokens FROM unnest(%(docs)s::text[], %(starts)s::int[], '
            "%(ends)s::int[]) WITH ORDINALITY AS s(doc_id, a, b, i) JOIN S.sentences x ON x.doc_id = s.doc_id "
            f'AND x.start >= s.a AND x."end" <= s.b WHERE {_visible("x")}',
            {
                "docs": [s[1] for s in spans],
                "starts": [int(s[2]) for s in spans],
                "ends": [int(s[3]) for s in spans],
            },
        )
        for i, row, start, end, tokens in found:
            out[int(i) - 1].append((int(row), start, end, tokens))
        for sentences in out:
            sentences.sort(key=lambda s: s[1])
        return out

    def rows_of_documents(self, doc_ids: Iterable[str]) -> np.ndarray:
        import numpy as np

        found = self._all(
            f"SELECT row FROM S.chunks WHERE doc_id = ANY(%(ids)s) AND {_visible()}", {"ids": list(doc_ids)}
        )
        return np.array(sorted(r[0] for r in found), dtype=np.int64)

    def stored_records(self, doc_ids: Iterable[str]) -> dict[str, tuple[int, list, list]]:
        ids = list(doc_ids)
        out: dict[str, tuple[int, list, list]] = {}
        chunks = self._all(
            f'SELECT row, doc_id, ordinal, start, "end", embed_hash FROM S.chunks '
            f"WHERE doc_id = ANY(%(ids)s) AND {_visible()} ORDER BY row",
            {"ids": ids},
        )
        for row, doc_id, ordinal, start, end, h in chunks:
            out.setdefault(doc_id, (0, [], []))[1].append((int(row), ChunkRecord(doc_id, ordinal, start, end, h)))
        sentences = self._all(
            f'SELECT row, doc_id, start, "end", hash FROM S.sentences '
            f"WHERE doc_id = ANY(%(ids)s) AND {_visible()} ORDER BY row",
            {"ids": ids},
        )
        for row, doc_id, start, end, h in sentences:
            out.setdefault(doc_id, (0, [], []))[2].append((int(row), SentenceRecord(doc_id, start, end, h)))
        return out

    def chunk_records(self) -> dict[str, list[tuple[int, ChunkRecord]]]:
        grouped: dict[str, list[tuple[int, ChunkRecord]]] = {}
        rows = self._all(
            f'SELECT row, doc_id, ordinal, start, "end", embed_hash FROM S.chunks WHERE {_visible()} '
            "ORDER BY doc_id, ordinal"
        )
        for row, doc_id, ordinal, start, end, h in rows:
            grouped.setdefault(doc_id, []).append((int(row), ChunkRecord(doc_id, ordinal, start, end, h)))
        return grouped

    def sentence_records(self) -> list[tuple[int, SentenceRecord]]:
        rows = self._all(f'SELECT row, doc_id, start, "end", hash FROM S.sentences WHERE {_visible()} ORDER BY row')
        return [(int(row), SentenceRecord(doc_id, start, end, h)) for row, doc_id, start, end, h in rows]

    def embeddings(self) -> np.ndarray:
        raise SourcedError("Benchmarks read vectors from a folder index; this one is in PostgreSQL.")

    def close(self) -> None:
        self.store._readers.close_mine()


class PgBM25:
    """BM25 from the postings in the database, with the same formula and collection-wide
    statistics (live rows, their average length, document frequencies) as
    :class:`retrieval.lexical.CollectionBM25`."""

    def __init__(self, snap: PgSnapshot) -> None:
        self.snap = snap
        self.params = {**DEFAULT_PARAMS, **(snap.manifest.get("lexical") or {})}
        self.rows = snap.rows
        self.live_rows = snap.chunk_count
        self.average_length = snap.manifest.get("length", 0) / self.live_rows if self.live_rows else 0.0

    def query_tokens(self, query: str) -> list[str]:
        return tokenize([query], self.params)[0]

    def _postings(self, tokens: Sequence[str]) -> list[tuple[str, list[int], list[int], list[int]]]:
        """Per query term: its live rows, term frequencies and row lengths, as arrays (one
        result row per term, loaded in binary: no Python tuple per posting)."""
        return self.snap._all(
            "SELECT term, array_agg(row), array_agg(tf), array_agg(length) FROM S.terms "
            f"WHERE term = ANY(%(terms)s) AND {_visible()} GROUP BY term",
            {"terms": sorted(set(tokens))},
            binary=True,
        )

    def _idf(self, df: int) -> float:
        import math

        return math.log(1 + (self.live_rows - df + 0.5) / (df + 0.5))

    def scores(self, query: str, tokens: Sequence[str] | None = None) -> np.ndarray:
        import numpy as np

        out = np.zeros(self.rows, dtype=np.float32)
        tokens = list(tokens) if tokens is not None else self.query_tokens(query)
        if not self.live_rows or self.average_length == 0 or not tokens:
            return out
        by_term = {term: (rows, tfs, lengths) for term, rows, tfs, lengths in self._postings(tokens)}
        k1, b = float(self.params["k1"]), float(self.params["b"])
        for term in tokens:  # a word asked twice counts twice, as in the local store
            hits = by_term.get(term)
            if not hits:
                continue
            rows = np.array(hits[0], dtype=np.int64)
            tfs = np.array(hits[1], dtype=np.float32)
            norms = (k1 * ((1 - b) + b * np.array(hits[2], dtype=np.int64) / self.average_length)).astype(np.float32)
            idf = np.float32(self._idf(len(rows)))
            out[rows] += (idf * tfs / (tfs + norms)).astype(np.float32)  # a row appears once per term
        return out

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        if not tokens or not self.live_rows:
            return {}
        found = self.snap._all(
            f"SELECT term, count(*) FROM S.terms WHERE term = ANY(%(terms)s) AND {_visible()} GROUP BY term",
            {"terms": sorted(set(tokens))},
        )
        df = dict(found)
        return {token: self._idf(int(df[token])) for token in tokens if token in df}
