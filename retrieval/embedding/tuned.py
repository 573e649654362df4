"""The packaged all-MiniLM-L6-v2 with some of its layers replaced by fine-tuned ones.

A tuned model ships as the tensors that differ from the packaged model (float16, in an
``.npz`` in ``models/``), not as a whole model: the six transformer layers fine-tuned on
news questions are 20 MB where the model is 87 MB, and the word embeddings stay as packaged. On first use the full model
folder is assembled once in the cache (packaged files + replaced tensors), written
atomically under a lock; after that every backend loads it like any local folder, and
the ONNX export caches its own files from it as for the packaged model.

Tuned weights are produced by ``benchmarks/train_news_model.py`` (offline, on this machine;
figures in docs/quality.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

from retrieval.embedding.base import PACKAGED_MODEL_ID, packaged_model_path
from retrieval.errors import ModelLoadError

MODELS_DIR = Path(__file__).with_name("models")
# Setting name -> (file of replaced tensors, model id recorded in every index it builds).
# The id changes whenever the weights do, so an index is never searched with vectors of
# another model: a new file means a new id (and a rebuild).
TUNED = {"all-MiniLM-L6-v2-news": ("minilm-news-v1.npz", f"{PACKAGED_MODEL_ID}+news-v1")}
WEIGHTS = "model.safetensors"


def tuned_model(name: str, cache_dir: Path | None = None) -> tuple[Path, str]:
    """(model folder, model id) of the tuned model ``name``, assembling the folder if needed."""
    file, model_id = TUNED[name]
    deltas = MODELS_DIR / file
    try:
        st = deltas.stat()
    except OSError as exc:
        raise ModelLoadError(f"The tuned model file {deltas} cannot be read ({exc.strerror or exc}).") from None
    # Keyed like the ONNX cache, by size and time: hashing 20 MB would cost every process start.
    digest = hashlib.sha1(f"{file}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    if cache_dir is None:
        from retrieval.paths import cache_dir as default_cache

        cache_dir = default_cache() / "models"
    folder = cache_dir / f"{name}-{digest}"
    if (folder / WEIGHTS).is_file():
        return folder, model_id
    from retrieval.embedding.export import cache_lock

    with cache_lock(folder):
        if not (folder / WEIGHTS).is_file():
            # A process killed while writing left its partial weights (87 MB): nobody else
            # can be writing them while this one holds the lock.
            for stale in folder.glob(f"{WEIGHTS}.tmp*"):
                stale.unlink(missing_ok=True)
            try:
                _assemble(packaged_model_path(), deltas, folder)
            except OSError as exc:  # a full disk, a folder made read-only meanwhile
                raise ModelLoadError(
                    f"Could not assemble the tuned model in {folder} ({exc.strerror or exc}); "
                    "set SOURCED_CACHE_DIR to a writable folder with 100 MB free."
                ) from None
    return folder, model_id


def _assemble(base: Path, deltas: Path, folder: Path) -> None:
    import numpy as np
    from safetensors.numpy import load_file, save_file

    for item in base.iterdir():
        if item.name == WEIGHTS or item.name.startswith("."):
            continue
        target = folder / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)
    tensors = load_file(str(base / WEIGHTS))
    try:
        with np.load(deltas, allow_pickle=False) as replaced:
            trained_from = str(replaced["__base__"]) if "__base__" in replaced.files else None
            if trained_from != PACKAGED_MODEL_ID:
                raise ModelLoadError(f"{deltas.name} was not trained from {PACKAGED_MODEL_ID}.")
            for key in replaced.files:
                if key.startswith("__"):
                    continue
                if key not in tensors or tensors[key].shape != replaced[key].shape:
                    raise ModelLoadError(f"{deltas.name} does not fit the packaged model (tensor {key}).")
                tensors[key] = replaced[key].astype(tensors[key].dtype)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"The tuned model file {deltas} cannot be read ({exc}).") from None
    tmp = folder / f"{WEIGHTS}.tmp{os.getpid()}"
    try:
        save_file(tensors, str(tmp))
        os.replace(tmp, folder / WEIGHTS)
    finally:
        tmp.unlink(missing_ok=True)
