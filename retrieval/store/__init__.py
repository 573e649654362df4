"""Where a collection's index is kept.

``base`` is the contract (the :class:`Store` and :class:`Snapshot` Protocols, the
``STORES`` registry and :func:`store_for`, the one place a store is chosen); ``records``
holds what every store is given and gives back; ``folder/`` and ``postgres/`` are the two
stores, with the same seams; ``lexical`` (BM25 postings) and ``dedup`` (MinHash of wire
copies) are shared by both; ``testing`` has the contract tests a third store runs.
"""

from retrieval.store.base import STORES, HealthReport, Snapshot, Store, check_index, store_for, store_kind
from retrieval.store.folder.store import FolderStore
from retrieval.store.records import (
    FORMAT_VERSION,
    Change,
    ChunkRecord,
    NothingToUndo,
    SegmentData,
    SentenceRecord,
)

__all__ = [
    "FORMAT_VERSION",
    "STORES",
    "Change",
    "ChunkRecord",
    "FolderStore",
    "HealthReport",
    "NothingToUndo",
    "SegmentData",
    "SentenceRecord",
    "Snapshot",
    "Store",
    "check_index",
    "store_for",
    "store_kind",
]
