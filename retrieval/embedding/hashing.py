"""A deterministic stand-in for a model (hashed words), fast enough for unit and load tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from retrieval.embedding.base import Progress

if TYPE_CHECKING:
    import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Hash each lower-cased word into a signed slot; shared words -> higher cosine.

    Identical across processes and platforms (blake2b, not Python's salted ``hash``).
    """

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.model_id = f"hash-v1-{dimension}"

    def _vector(self, text: str) -> np.ndarray:
        import numpy as np

        vec = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            vec[h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0] = 1.0
            return vec
        return vec / norm

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        import numpy as np

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._vector(text)
            if progress and (i + 1) % batch_size == 0:
                progress(batch_size)
        if progress and len(texts) % batch_size:
            progress(len(texts) % batch_size)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        from retrieval.ingest.chunking import approx_token_counts

        return approx_token_counts(texts)
