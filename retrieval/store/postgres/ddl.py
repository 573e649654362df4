"""The PostgreSQL store's tables: creating them, checking pgvector, the HNSW index, and
upgrading a store written by layout 1."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from retrieval.errors import IndexMismatchError
from retrieval.store.postgres.connection import LAYOUT, StoreError, first_line, register_vector, safe_url

if TYPE_CHECKING:
    pass


class SchemaMixin:
    """Tables and upgrades, mixed into :class:`PgStore`."""

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
                f"it ({first_line(exc)}). Ask its administrator to run CREATE EXTENSION vector."
            ) from None

    def _ensure_tables(self, conn, dimension: int) -> bool:
        """Make the schema's tables if they are not there; True when they were just made."""
        self._require_pgvector(conn)
        register_vector(conn, self.url)
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
