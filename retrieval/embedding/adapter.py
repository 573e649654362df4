"""A linear map applied to question vectors only: q' = normalise(q + q·A).

Quiz-style and newsroom questions ("Which city moved to ban …?") are phrased unlike the
passages that answer them. A small matrix learnt from question → answering-passage
pairs moves the question toward its answers without touching the passages, so an
existing index keeps working and nothing is re-embedded. It is tied to the model whose
vectors it was trained on and is skipped for any other (the hash test embedder, a
local model folder).

The bundled ``news`` adapter is produced by ``benchmarks/train_query_adapter.py`` (figures
in docs/quality.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

    from retrieval.embedding.base import Embedder, Progress

BUNDLED = {"news": Path(__file__).with_name("adapters") / "news-minilm.npz"}
NO_ADAPTER = "none"


@dataclass(frozen=True)
class QueryAdapter:
    matrix: np.ndarray  # (dimension, dimension), float32
    model_id: str
    name: str

    def apply(self, vector: np.ndarray) -> np.ndarray:
        import numpy as np

        out = vector + vector @ self.matrix
        return (out / max(float(np.linalg.norm(out)), 1e-12)).astype(np.float32)


def load_adapter(setting: str) -> QueryAdapter | None:
    """The adapter named by ``embedding.query_adapter``: a bundled name, a path, or none."""
    import numpy as np

    if not setting or setting == NO_ADAPTER:
        return None
    path = BUNDLED.get(setting) or Path(setting).expanduser()
    try:
        with np.load(path, allow_pickle=False) as data:
            matrix = np.asarray(data["matrix"], dtype=np.float32)
            model_id = str(data["model_id"])
    except (OSError, KeyError, ValueError) as exc:
        raise ModelLoadError(
            f"Cannot read the query adapter {setting!r} ({exc}); use 'news', 'none' or the path of a "
            ".npz file written by benchmarks/train_query_adapter.py."
        ) from None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ModelLoadError(f"The query adapter {setting!r} is not a square matrix (shape {matrix.shape}).")
    return QueryAdapter(matrix, model_id, setting)


class AdaptedEmbedder:
    """An embedder whose question vectors go through a :class:`QueryAdapter`; passages as is."""

    def __init__(self, inner: Embedder, adapter: QueryAdapter) -> None:
        if adapter.matrix.shape[0] != inner.dimension:
            raise ModelLoadError(
                f"The query adapter {adapter.name!r} is for {adapter.matrix.shape[0]}-dimension vectors; "
                f"the model gives {inner.dimension}."
            )
        self.inner = inner
        self.adapter = adapter
        self.model_id = inner.model_id
        self.dimension = inner.dimension

    @property
    def loaded(self) -> bool:
        return bool(getattr(self.inner, "loaded", True))

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        return self.inner.embed(texts, batch_size, progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self.adapter.apply(self.inner.embed_query(text))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)


def with_adapter(embedder: Embedder, setting: str) -> Embedder:
    """``embedder`` with the configured adapter. A bundled adapter is skipped for a model it
    was not trained for; an adapter file given by path must match the model."""
    adapter = load_adapter(setting)
    if adapter is None:
        return embedder
    if adapter.model_id != embedder.model_id:
        if setting in BUNDLED:
            return embedder
        raise ModelLoadError(
            f"The query adapter {setting!r} was trained for {adapter.model_id}, not {embedder.model_id}."
        )
    return AdaptedEmbedder(embedder, adapter)


def query_vectors(embedder: Embedder, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(plain, ranking) vectors of a question. Ranking uses the adapted vector; the
    similarities shown and compared with ``search.min_score`` use the model's own, so
    the calibrated threshold means the same with or without an adapter (and is not
    inflated on the questions the adapter was trained on)."""
    if isinstance(embedder, AdaptedEmbedder):
        plain = embedder.inner.embed_query(text)
        return plain, embedder.adapter.apply(plain)
    vector = embedder.embed_query(text)
    return vector, vector
