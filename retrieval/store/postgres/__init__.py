"""The PostgreSQL store (``index.store: postgresql://…``): the same contract as the folder
store, in one database schema per collection, with pgvector for the dense side.

``store`` (:class:`PgStore`) is the entry point; ``connection`` holds URLs, per-thread
connections and generation numbers; ``ddl`` creates and upgrades the tables; ``writes``
turns a change into one transaction; ``snapshot`` and ``bm25`` read a generation;
``health`` is `sourced doctor`; ``server`` runs a local PostgreSQL for ``sourced db``
and the tests. psycopg is imported only when a connection is made.
"""

from __future__ import annotations

from retrieval.store.base import STORES


@STORES.register("postgresql")
def _postgres_store(config, folder, reading, namespace):
    from retrieval.store.postgres.connection import schema_for, state_folder
    from retrieval.store.postgres.store import PgStore

    index = config.index
    schema = namespace or schema_for(config.collection)
    return PgStore(
        index.store,
        state_folder(folder, index.store, schema),
        schema,
        read_url=index.read_store if reading else None,
        keep_generations=index.keep_generations,
        hnsw=(index.hnsw_m, index.hnsw_ef_construction, index.hnsw_ef_search),
    )
