"""The same model exported to ONNX (fp32 or int8) and run by onnxruntime: no torch per question."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.embedding.base import Progress, WordPieceCounter, encode_by_length, model_dimension

if TYPE_CHECKING:
    import numpy as np


class OnnxEmbedder:
    """The same model run by onnxruntime: no torch at query time, ~5x faster single queries.

    The ONNX file is exported once from the local model folder with torch (already
    installed) into a cache folder, and quantised to int8 for ``onnx-int8``. Tokenising
    uses the model's own ``tokenizer.json``; mean pooling and L2 normalisation follow
    the model's sentence-transformers configuration, so fp32 vectors match it.
    """

    def __init__(self, path: Path, model_id: str, quantized: bool, cache_dir: Path, max_tokens: int = 256) -> None:
        self.path = path
        self.model_id = model_id
        self.quantized = quantized
        self.cache_dir = cache_dir
        self.max_tokens = max_tokens
        self.dimension = model_dimension(path)
        # Threads of one model run; None: the machine's cores, up to 4. A Ray actor sets its
        # share, so two actors on two cores do not run four threads.
        self.threads: int | None = None
        self._session = None
        self._tokenizer = None
        self._counter = WordPieceCounter(path)
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (the first embed loads it, exporting it once: seconds)."""
        return self._session is not None

    def _load(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from retrieval.embedding.export import ensure_onnx

                    onnx_file = ensure_onnx(self.path, self.cache_dir, self.quantized)
                    import onnxruntime as ort
                    from tokenizers import Tokenizer

                    options = ort.SessionOptions()
                    options.intra_op_num_threads = self.threads or max(1, min(os.cpu_count() or 1, 4))
                    options.inter_op_num_threads = 1
                    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                    session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
                    tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
                    tokenizer.enable_truncation(max_length=self.max_tokens)
                    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                    self._input_names = {i.name for i in session.get_inputs()}
                    self._tokenizer = tokenizer
                    self._session = session
        return self._session, self._tokenizer

    def _encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:

        return encode_by_length(texts, self.dimension, batch_size, self._encode_batch, progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode_batch([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._counter(texts)
