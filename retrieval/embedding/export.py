"""Export a local sentence-transformers model to ONNX once, and quantise it to int8.

Runs torch only here, on first use of an ONNX backend, and never again: the files are
cached (keyed by the model files' size and modification time) and written atomically,
under a lock, so two processes starting at once export only once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

from retrieval.errors import ModelLoadError

EXPORT_VERSION = 2  # 2: per-channel int8 weights, MatMul only


def _model_key(model_dir: Path) -> str:
    digest = hashlib.sha1(f"v{EXPORT_VERSION}".encode())
    for f in sorted(model_dir.rglob("*")):
        # Not the lock of a folder sourced assembled (a tuned model): taking it is no change.
        if f.is_file() and f.name != ".lock":
            st = f.stat()
            digest.update(f"{f.relative_to(model_dir)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def ensure_onnx(model_dir: Path, cache_dir: Path, quantized: bool) -> Path:
    """Path of the (possibly int8) ONNX model for ``model_dir``, exporting it if needed."""
    folder = cache_dir / f"{model_dir.name}-{_model_key(model_dir)}"
    fp32 = folder / "model.onnx"
    int8 = folder / "model-int8.onnx"
    target = int8 if quantized else fp32
    if target.is_file():
        return target
    with cache_lock(folder):
        try:
            if not fp32.is_file():
                _export(model_dir, fp32)
            if quantized and not int8.is_file():
                _quantize(fp32, int8)
        except ModelLoadError:
            raise
        except Exception as exc:  # noqa: BLE001 - export failures all mean the same to a user
            raise ModelLoadError(f"Could not prepare the ONNX model in {folder}: {exc}") from None
    return target


@contextlib.contextmanager
def cache_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock (made if missing): another process may be preparing the same
    files, and must finish before this one looks again."""
    from filelock import FileLock

    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / ".lock")
        lock.acquire()
    except OSError as exc:
        raise ModelLoadError(
            f"Cannot write the model cache at {folder} ({exc.strerror or exc}); "
            "set SOURCED_CACHE_DIR to a writable folder."
        ) from None
    try:
        yield
    finally:
        lock.release()


def _export(model_dir: Path, out: Path) -> None:
    from retrieval.embedding.base import force_offline

    force_offline()
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class Encoder(torch.nn.Module):
        """Keyword arguments only: transformers' positional order differs between versions."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    # The TorchScript exporter is chosen on purpose (dynamo=False: the torch.export one
    # needs onnxscript and was slower here); its deprecation and tracer warnings say
    # nothing a user can act on, once, on first use.
    with (
        torch.no_grad(),
        open(os.devnull, "w") as devnull,
        contextlib.redirect_stderr(devnull),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(model),
            (sample, sample, torch.zeros_like(sample)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, out)


def _quantize(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out.with_suffix(f".tmp{os.getpid()}.onnx")
    # Per-channel weights on the MatMuls only: measured cosine to fp32 >= 0.99 (per-tensor
    # weights over all ops gave 0.91 at worst).
    with _root_logging_silenced():
        quantize_dynamic(
            str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
        )
    os.replace(tmp, out)


@contextlib.contextmanager
def _root_logging_silenced() -> Iterator[None]:
    """onnxruntime's quantizer calls ``logging.warning`` (advice to pre-process the model),
    which installs a root handler as a side effect: the advice and, from then on, every
    library's debug messages (bm25s) were printed into the user's first answer. A handler
    that drops everything keeps the root logger configured only by entry points."""
    import logging

    root = logging.getLogger()
    quiet = logging.NullHandler()
    root.addHandler(quiet)
    try:
        yield
    finally:
        root.removeHandler(quiet)
