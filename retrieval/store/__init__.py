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
]
