"""The persisted index: immutable segments, and generations that list them with deletion marks.

``schema`` says what is on disk, ``segment`` writes and reads one segment, ``snapshot``
reads a generation as one index, ``writer`` adds segments and generations atomically
under a lock (with merges and rollback), and ``health`` checks that a generation is whole.
"""

from retrieval.store.health import HealthReport, check_index
from retrieval.store.schema import FORMAT_VERSION, ChunkRecord, SentenceRecord
from retrieval.store.segment import SegmentData
from retrieval.store.snapshot import Snapshot
from retrieval.store.writer import Change, IndexStore, NothingToUndo


def store_for(config, folder, reading: bool = False):
    """The store ``config`` names: the folder of segments at ``folder``, or, with
    ``index.store`` set, the PostgreSQL database (``folder`` then keeps the sync state).
    ``reading``: for questions only, so ``index.read_store`` (a replica) may serve them."""
    if not config.index.store:
        return IndexStore(folder, config.index.keep_generations, config.index.merge_factor)
    from retrieval.store.pg import PgStore, schema_for

    return PgStore(
        config.index.store,
        folder,
        schema_for(config.collection),
        read_url=config.index.read_store if reading else None,
        keep_generations=config.index.keep_generations,
        hnsw=(config.index.hnsw_m, config.index.hnsw_ef_construction, config.index.hnsw_ef_search),
    )


__all__ = [
    "FORMAT_VERSION",
    "Change",
    "ChunkRecord",
    "HealthReport",
    "IndexStore",
    "NothingToUndo",
    "SegmentData",
    "SentenceRecord",
    "Snapshot",
    "check_index",
    "store_for",
]
