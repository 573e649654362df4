"""all-MiniLM-L6-v2 (or a local sentence-transformers folder) run by sentence-transformers on torch."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.embedding.base import Progress, WordPieceCounter, encode_by_length, force_offline, model_dimension
from retrieval.errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, offline."""

    def __init__(self, path: Path, model_id: str) -> None:
        self.path = path
        self.model_id = model_id
        self._model = None
        self._counter = WordPieceCounter(path)
        self._lock = threading.Lock()
        self.dimension = model_dimension(path)

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (the first embed loads it: seconds)."""
        return self._model is not None

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    force_offline()
                    try:
                        from sentence_transformers import SentenceTransformer

                        self._model = SentenceTransformer(str(self.path), device="cpu")
                    except Exception as exc:  # noqa: BLE001 - any load failure means the same to a user
                        raise ModelLoadError(f"Cannot load the embedding model from {self.path}: {exc}") from None
        return self._model

    @property
    def max_tokens(self) -> int:
        return 256

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        import numpy as np

        model = self.model

        def encode(batch: list[str]) -> np.ndarray:
            vecs = model.encode(
                batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            return vecs.astype(np.float32, copy=False)

        # Slices of several batches: sentence-transformers batches inside each slice.
        return encode_by_length(texts, self.dimension, batch_size * 4, encode, progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._counter(texts)
