"""The answer re-ranker: a small cross-encoder that reads the question and a passage
together and says how likely the passage answers it (docs/quality.md, issue 29).

It runs after fusion (``QueryService._rerank``), on the best ``search.rerank_depth``
passages: within an article, the passages read take its fused scores in the re-ranker's
order, so the article keeps its place and shows the passage the re-ranker prefers
(``search.rerank_weight`` > 0 also moves articles); the best of the first three shown
passages' scores is the answer's ``support``, what ``answered`` is then decided on.
``search.rerank: false`` (the default) is the fused order and the cosine rule.

The model is the first layers of the packaged all-MiniLM-L6-v2, fine-tuned here
(``benchmarks/train_reranker.py``), kept as the tensors it changed (float16, in
``retrieval/embedding/models/``), plus a one-logit head on the mean of the token states.
The stage is off by default and its weights are not shipped: measured on 2026-12-03 it was
worse than the fused order and the cosine rule on every kind of question (docs/quality.md). On first use its
folder is assembled in the cache from the packaged model (as ``retrieval.embedding.tuned``
does), exported to ONNX int8 once, and run by onnxruntime: no torch per question.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from retrieval.embedding.base import PACKAGED_MODEL_ID, packaged_model_path
from retrieval.errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

MODELS_DIR = Path(__file__).resolve().parents[1] / "embedding" / "models"
MODEL_FILE = "rerank-news-v1.npz"
WEIGHTS = "model.safetensors"
# Tokens of question + passage read together (the passage is cut to fit).
MAX_TOKENS = 128


class Scorer(Protocol):
    """Scores (question, passage) pairs: the probability (0..1) each passage answers."""

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray: ...


def _sigmoid(x):
    import numpy as np

    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


class CrossEncoder:
    """The shipped re-ranker, run by onnxruntime (int8)."""

    def __init__(self, cache_dir: Path | None = None, deltas: Path | None = None, max_tokens: int = MAX_TOKENS) -> None:
        if cache_dir is None:
            from retrieval.paths import cache_dir as default_cache

            cache_dir = default_cache()
        self.cache_dir = cache_dir
        self.deltas = deltas or MODELS_DIR / MODEL_FILE
        self.max_tokens = max_tokens
        self.threads: int | None = None
        self._lock = threading.Lock()
        self._session = None

    def _load(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from retrieval.embedding.export import ensure_onnx

                    folder, head = assemble(self.deltas, self.cache_dir / "models")
                    onnx_file = ensure_onnx(folder, self.cache_dir / "onnx", quantized=True)
                    import onnxruntime as ort
                    from tokenizers import Tokenizer

                    options = ort.SessionOptions()
                    options.intra_op_num_threads = self.threads or max(1, min(os.cpu_count() or 1, 4))
                    options.inter_op_num_threads = 1
                    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                    session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
                    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                    tokenizer.enable_truncation(max_length=self.max_tokens, strategy="only_second")
                    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                    self._tokenizer = tokenizer
                    self._head = head
                    self._session = session
        return self._session, self._tokenizer, self._head

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not passages:
            return np.zeros(0, dtype=np.float64)
        session, tokenizer, (weight, bias) = self._load()
        encodings = tokenizer.encode_batch([(question, p) for p in passages])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return _sigmoid(pooled @ weight + bias)


def assemble(deltas: Path, cache_dir: Path) -> tuple[Path, tuple[np.ndarray, float]]:
    """(model folder, (head weight, head bias)) of the re-ranker in ``deltas``; the folder
    (packaged files, first layers only, replaced tensors) is written once in the cache."""
    import numpy as np

    if not deltas.is_file():
        raise ModelLoadError(
            f"The answer re-ranker's weights {deltas} are not there: they are not shipped. Make them with "
            "`benchmarks/train_reranker.py` (about 10 minutes on two cores), or set search.rerank: false."
        )
    try:
        st = deltas.stat()
        with np.load(deltas, allow_pickle=False) as data:
            if "__base__" not in data.files or str(data["__base__"]) != PACKAGED_MODEL_ID:
                raise ModelLoadError(f"{deltas.name} was not trained from {PACKAGED_MODEL_ID}.")
            layers = int(data["__layers__"])
            head = (data["head.weight"].astype(np.float32).reshape(-1), float(data["head.bias"].reshape(-1)[0]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"The re-ranker file {deltas} cannot be read ({exc}).") from None
    digest = hashlib.sha1(f"{deltas.name}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    folder = cache_dir / f"rerank-{digest}"
    if (folder / WEIGHTS).is_file():
        return folder, head
    from retrieval.embedding.export import cache_lock

    with cache_lock(folder):
        if not (folder / WEIGHTS).is_file():
            for stale in folder.glob(f"{WEIGHTS}.tmp*"):
                stale.unlink(missing_ok=True)
            try:
                _write(packaged_model_path(), deltas, layers, folder)
            except OSError as exc:
                raise ModelLoadError(
                    f"Could not assemble the re-ranker in {folder} ({exc.strerror or exc}); "
                    "set SOURCED_CACHE_DIR to a writable folder with 100 MB free."
                ) from None
    return folder, head


def _write(base: Path, deltas: Path, layers: int, folder: Path) -> None:
    import numpy as np
    from safetensors.numpy import load_file, save_file

    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (base / name).is_file():
            shutil.copy2(base / name, folder / name)
    config = json.loads((base / "config.json").read_text())
    config["num_hidden_layers"] = layers
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    tensors = load_file(str(base / WEIGHTS))
    kept = {}
    for key, value in tensors.items():
        parts = key.split(".")
        at = parts.index("layer") + 1 if "layer" in parts else 0
        if "pooler" in parts or (at and parts[at].isdigit() and int(parts[at]) >= layers):
            continue
        kept[key] = value
    with np.load(deltas, allow_pickle=False) as data:
        for key in data.files:
            if key.startswith("__") or key.startswith("head."):
                continue
            # The packaged file may name tensors with or without the "bert." prefix.
            target = key if key in kept else next((k for k in kept if k.endswith("." + key)), None)
            if target is None or kept[target].shape != data[key].shape:
                raise ModelLoadError(f"{deltas.name} does not fit the packaged model (tensor {key}).")
            kept[target] = data[key].astype(kept[target].dtype)
    tmp = folder / f"{WEIGHTS}.tmp{os.getpid()}"
    try:
        save_file(kept, str(tmp))
        os.replace(tmp, folder / WEIGHTS)
    finally:
        tmp.unlink(missing_ok=True)
