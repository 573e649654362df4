"""Ingest on a Ray cluster (`sourced index --engine ray`): Ray Data streams the article
files to an actor pool that reads, parses and cleans them, the documents to an actor pool
that chunks them (each actor holds the model's tokenizer), then the texts to embed to an
actor pool whose actors each load the model once and embed whole slices.

The slices are exactly the local embedder's (texts sorted by length, cut every
``batch_size * 4``, which is also a whole number of the ONNX backends' batches), so the
vectors equal a local run's: the int8 backend scales activations per batch, and other
batches would give slightly other vectors. Chunking is a pure function
(``retrieval.ingest.indexer.chunk_one``), as is reading one file (``CollectionReader.read_one``),
so documents and records are the local run's too. Finding the files, merging articles
that share a URL, planning the sync (what is new, changed or gone), fetching web sources,
re-using stored vectors and writing the index stay in the indexing process, so the index
is the same either way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from retrieval.embedding.base import Progress
from retrieval.errors import SourcedError

if TYPE_CHECKING:
    import numpy as np

SLICE_BATCHES = 4


class RayError(SourcedError):
    """Ray cannot be started or reached."""


class _SliceEmbedder:
    """A Ray actor: the model, loaded once; embeds one slice per call."""

    def __init__(self, model: str, backend: str, cache_dir: str | None, threads: int) -> None:
        from pathlib import Path

        from retrieval.embedding import make_embedder

        self.embedder = make_embedder(model, backend, Path(cache_dir) if cache_dir else None)
        if hasattr(self.embedder, "threads"):
            self.embedder.threads = threads  # its share of the node's cores

    def __call__(self, batch: dict) -> dict:
        # Vectors go back as bytes: slices differ in length, and plain bytes cross any
        # Ray Data block format unchanged.
        out: dict[str, list] = {"slice": [], "vectors": []}
        for n, texts, size in zip(batch["slice"], batch["texts"], batch["batch_size"], strict=True):
            vectors = self.embedder.embed([str(t) for t in texts], int(size))
            out["slice"].append(int(n))
            out["vectors"].append(vectors.astype("float32").tobytes())
        return out


class _BlockActor:
    """A Ray actor that maps :meth:`one` over pickled blocks of values. Values and results
    travel pickled: Ray Data's Arrow blocks hold bytes as they are."""

    def one(self, value):
        raise NotImplementedError

    def __call__(self, batch: dict) -> dict:
        import pickle

        out: dict[str, list] = {"block": [], "result": []}
        for n, payload in zip(batch["block"], batch["payload"], strict=True):
            out["block"].append(int(n))
            out["result"].append(pickle.dumps([self.one(value) for value in pickle.loads(payload)]))
        return out


class _DocumentChunker(_BlockActor):
    """The model's tokenizer (token counts decide passage boundaries): chunks documents."""

    def __init__(self, model: str, backend: str, cache_dir: str | None, settings) -> None:
        from pathlib import Path

        from retrieval.embedding import make_embedder

        self.embedder = make_embedder(model, backend, Path(cache_dir) if cache_dir else None)
        self.settings = settings

    def one(self, document):
        from retrieval.ingest.chunking import chunk_one

        return chunk_one(document, self.settings, self.embedder.count_tokens)


class _FileReader(_BlockActor):
    """The collection reader (cleaning and metadata rules): reads, parses and cleans files.
    The files must be where this worker can see them (one machine, or a filesystem the
    cluster shares)."""

    def __init__(self, reader_payload: bytes) -> None:
        import pickle

        self.reader = pickle.loads(reader_payload)

    def one(self, file_and_root):
        return self.reader.read_one(*file_and_root)


class RayEmbedder:
    """An :class:`Embedder` whose ``embed`` runs on Ray; questions and token counts stay local."""

    def __init__(self, local, model: str, backend: str, address: str | None = None, workers: int | None = None):
        self.local = local  # the same model here: model id, dimension, tokenizer, questions
        self.model_id = local.model_id
        self.dimension = local.dimension
        self.model, self.backend = model, backend
        self.address = address
        self.workers = workers
        self._started = False

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.local.count_tokens(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.local.embed_query(text)

    def _connect(self) -> None:
        if self._started:
            return
        try:
            import ray
        except ModuleNotFoundError:
            raise RayError("The Ray engine needs Ray: pip install 'sourced[ray]'.") from None
        os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
        logging.getLogger("ray").setLevel(logging.WARNING)
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        if self.address and not ray.is_initialized():
            check_reachable(self.address)
        try:
            if not ray.is_initialized():
                if self.address:
                    ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
                else:
                    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local Ray"
            raise RayError(f"Cannot reach Ray at {where}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
        from ray.data import DataContext

        for name in ("ray", "ray.data", "ray.data._internal.execution.streaming_executor"):
            logging.getLogger(name).setLevel(logging.WARNING)
        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.execution_options.verbose_progress = False
        self._started = True

    def _model_args(self) -> tuple[str, str, str]:
        from retrieval.paths import cache_dir

        return self.model, self.backend, str(cache_dir() / "onnx")

    def _pool(self, items: list[dict], make_actor):
        """The rows ``items`` become through an actor pool: one actor per CPU of the cluster
        (at most one per item). ``make_actor(cpus, workers)`` gives the actor class, whose
        settings travel with the class, not the object store."""
        import ray

        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        workers = max(1, min(self.workers or int(cpus), len(items)))
        return (
            ray.data.from_items(items, override_num_blocks=len(items))
            .map_batches(
                make_actor(cpus, workers),
                batch_size=1,
                concurrency=workers,
                # Fractional: whole CPUs per actor left Ray waiting on a 2-CPU machine.
                num_cpus=max(0.1, min(1.0, cpus / workers) * 0.9),
            )
            .iter_rows()
        )

    def _map_blocks(self, values: Sequence, block: int, actor) -> list:
        """``actor().one`` of every value, on the cluster, in the values' order."""
        import pickle

        if not values:
            return []
        self._connect()
        blocks = [values[b : b + block] for b in range(0, len(values), block)]
        items = [{"block": n, "payload": pickle.dumps(list(part))} for n, part in enumerate(blocks)]
        out: list = [None] * len(blocks)
        for row in self._pool(items, lambda _cpus, _workers: actor):
            out[int(row["block"])] = pickle.loads(row["result"])
        return [result for done in out for result in done]

    def read_files(self, reader, files: Sequence, block: int = 32) -> list:
        """``reader.read_one`` of every (file, root), run on the cluster, in order."""
        import pickle

        payload = pickle.dumps(reader)

        class FileReader(_FileReader):
            def __init__(self) -> None:
                super().__init__(payload)

        return self._map_blocks(files, block, FileReader)

    def chunk_documents(self, documents: Sequence, settings, block: int = 64) -> list:
        """``chunk_one`` of every document, run on the cluster, in the documents' order."""
        model, backend, cache = self._model_args()

        class DocumentChunker(_DocumentChunker):
            def __init__(self) -> None:
                super().__init__(model, backend, cache, settings)

        return self._map_blocks(documents, block, DocumentChunker)

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        import numpy as np

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        self._connect()

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        step = batch_size * SLICE_BATCHES
        slices = [order[b : b + step] for b in range(0, len(order), step)]
        items = [
            {"slice": n, "texts": [texts[i] for i in idx], "batch_size": batch_size} for n, idx in enumerate(slices)
        ]
        model, backend, cache = self._model_args()

        def make_actor(cpus: float, workers: int):
            threads = max(1, int(cpus // workers))

            class SliceEmbedder(_SliceEmbedder):
                def __init__(self) -> None:
                    super().__init__(model, backend, cache, threads)

            return SliceEmbedder

        for row in self._pool(items, make_actor):
            idx = slices[int(row["slice"])]
            out[idx] = np.frombuffer(row["vectors"], dtype=np.float32).reshape(len(idx), self.dimension)
            if progress:
                progress(len(idx))
        return out


def check_reachable(address: str, seconds: float = 5.0) -> None:
    """Fail fast on an address nothing listens at (ray.init would retry for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayError(f"{address!r} is not a Ray address (host:port, e.g. 10.0.0.5:6379).")
    try:
        with socket.create_connection((host, int(port)), timeout=seconds):
            pass
    except OSError as exc:
        raise RayError(f"Cannot reach Ray at {address}: {exc.strerror or exc}.") from None
