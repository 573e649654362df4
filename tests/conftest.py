"""Shared fixtures. Unit tests use the deterministic HashEmbedder: no model load, no network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrieval.config import Config, build_config
from retrieval.embedding import HashEmbedder
from retrieval.indexer import Indexer
from retrieval.service import QueryService
from retrieval.store import IndexStore

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "data" / "articles"

# Tests must never reach a model hub, whatever the machine allows.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture
def hash_config() -> Config:
    return build_config({"embedding": {"model": "hash"}})


class CountingEmbedder(HashEmbedder):
    """A HashEmbedder that records how many passages it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed(self, texts, batch_size=32, progress=None):
        self.embedded += len(texts)
        return super().embed(texts, batch_size, progress)


def build(config: Config, index_dir: Path, paths, embedder=None):
    embedder = embedder or HashEmbedder()
    report = Indexer(config, IndexStore(index_dir), embedder).run([Path(p) for p in paths])
    return report


def service_for(config: Config, index_dir: Path, embedder=None) -> QueryService:
    embedder = embedder or HashEmbedder()
    return QueryService(IndexStore(index_dir), lambda: embedder, config.search)


@pytest.fixture
def bundled_index(tmp_path, hash_config):
    index_dir = tmp_path / "index"
    build(hash_config, index_dir, [BUNDLED])
    return index_dir
