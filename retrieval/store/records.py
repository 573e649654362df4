"""What every store is given and gives back: the records of one write (documents, chunks,
sentences and their vectors), a change to a generation, and what a manifest says.

Both stores (``folder/`` and ``postgres/``) and the indexer speak in these; nothing here
knows how a store keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from retrieval.errors import SourcedError
from retrieval.types import Document

if TYPE_CHECKING:
    import numpy as np

    from retrieval.store.lexical import Postings


# 2: BM25 index in each generation; 3: sentence vectors; 4: sentence tokens;
# 5: immutable segments + deletion marks, sources registry, collection-wide BM25
FORMAT_VERSION = 5


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A chunk as stored: its place in its document and the hash of the text embedded."""

    doc_id: str
    ordinal: int
    start: int
    end: int
    embed_hash: str


@dataclass(frozen=True, slots=True)
class SentenceRecord:
    """A sentence of a document, by offsets, with the hash of its text (for vector reuse)."""

    doc_id: str
    start: int
    end: int
    hash: str


SENTENCE_SCALE = 127.0  # int8 sentence vectors hold round(x * 127) of a unit vector's components


@dataclass(frozen=True)
class SegmentData:
    """What a new segment holds, before it is written."""

    documents: Sequence[Document]
    origins: Sequence[str]  # the registered source each document came from
    chunks: Sequence[ChunkRecord]
    vectors: np.ndarray  # float32, one row per chunk
    texts: Sequence[str] | None  # each chunk's text as embedded (title + passage), for BM25
    sentences: Sequence[SentenceRecord]
    sentence_vectors: np.ndarray  # float32 or int8, one row per sentence
    postings: Postings | None = None  # instead of texts: postings already built (a merge)
    sentence_tokens: Sequence[str] | None = None  # BM25 tokens of each sentence, if known
    signatures: np.ndarray | None = None  # MinHash of each document (a merge carries them over)


def quantize_sentences(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    if vectors.dtype == np.int8:
        return vectors
    return np.clip(np.rint(np.asarray(vectors, dtype=np.float32) * SENTENCE_SCALE), -127, 127).astype(np.int8)


class NothingToUndo(SourcedError):
    """Rollback with no earlier generation kept."""


@dataclass
class Change:
    """What one write does to the live generation."""

    new: SegmentData | None = None
    deletions: set[str] = field(default_factory=set)  # document ids to mark deleted
    sources: list[dict[str, Any]] | None = None  # the registry after the change (None: unchanged)
    action: str = ""  # said in the manifest: what made this generation
    replace_all: bool = False  # a rebuild: the new segment replaces every existing one


def replace_all(
    documents: Sequence[Document],
    chunks: Sequence[ChunkRecord],
    embeddings: np.ndarray,
    manifest: dict[str, Any],
    texts: Sequence[str] | None = None,
    sentences: Sequence[SentenceRecord] = (),
    sentence_vectors: np.ndarray | None = None,
    origins: Sequence[str] | None = None,
) -> Change:
    """The change that replaces a whole index with these documents (either store's ``write``)."""
    import numpy as np

    if texts is None:
        by_id = {d.id: d for d in documents}
        texts = [by_id[c.doc_id].text[c.start : c.end] for c in chunks]
    if sentence_vectors is None:
        sentence_vectors = np.zeros((0, manifest["dimension"]), dtype=np.float32)
    data = SegmentData(
        documents, origins or [""] * len(documents), chunks, embeddings, texts, sentences, sentence_vectors
    )
    return Change(new=data, action=manifest.get("action", "rebuild"), replace_all=True)


class ManifestFacts:
    """What a generation's manifest says, the same for either store."""

    manifest: dict[str, Any]

    @property
    def model_id(self) -> str:
        return self.manifest["model_id"]

    @property
    def dimension(self) -> int:
        return int(self.manifest["dimension"])

    @property
    def chunk_count(self) -> int:
        """Live passages."""
        return int(self.manifest["chunks"])

    @property
    def sources(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("sources", []))

    @property
    def current_format(self) -> bool:
        return self.manifest.get("format_version") == FORMAT_VERSION
