"""What many tests share: where things are, and small builders around the hash embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval.config import Config
from retrieval.embedding import HashEmbedder
from retrieval.ingest.indexer import Indexer
from retrieval.ingest.report import IndexReport
from retrieval.query.service import QueryService
from retrieval.store import FolderStore

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "data" / "articles"
HASH_CONFIG_YAML = "embedding:\n  model: hash\n"


class CountingEmbedder(HashEmbedder):
    """A HashEmbedder that records how many passages it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed(self, texts, batch_size=32, progress=None):
        self.embedded += len(texts)
        return super().embed(texts, batch_size, progress)


def build(config: Config, index_dir: Path, paths, embedder=None) -> IndexReport:
    embedder = embedder or HashEmbedder()
    return Indexer(config, FolderStore(index_dir), embedder).run([Path(p) for p in paths])


def service_for(config: Config, index_dir: Path, embedder=None) -> QueryService:
    embedder = embedder or HashEmbedder()
    return QueryService(FolderStore(index_dir), lambda: embedder, config.search)


def clustered(n: int, dim: int = 32, clusters: int = 50, seed: int = 0) -> tuple[np.ndarray, np.random.Generator]:
    """Unit vectors around ``clusters`` centres (seeded), and the generator for queries."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    data = centres[rng.integers(0, clusters, n)] + rng.normal(scale=0.3, size=(n, dim))
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    return data.astype(np.float32), rng


def unblock_fifo_later(fifo: Path, seconds: float = 5.0) -> None:
    """Should anything open ``fifo`` for reading, end its wait for a writer after a few
    seconds (an empty write side), so a test of "never opened" fails instead of hanging."""
    import os
    import threading
    import time

    def unblock() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.25)
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError:  # no reader yet (the right outcome), or the folder is gone
                continue

    threading.Thread(target=unblock, daemon=True).start()
