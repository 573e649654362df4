"""The persisted index: immutable generations of FAISS vectors + SQLite metadata + BM25.

``schema`` says what a generation holds, ``snapshot`` reads one, ``writer`` writes the
next one atomically under a lock, and ``health`` checks that a generation is whole.
"""

from .health import HealthReport, check_index
from .schema import FORMAT_VERSION, ChunkRecord, SentenceRecord
from .snapshot import Snapshot
from .writer import IndexStore

__all__ = ["FORMAT_VERSION", "ChunkRecord", "HealthReport", "IndexStore", "SentenceRecord", "Snapshot", "check_index"]
