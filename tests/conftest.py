"""Shared fixtures. Unit tests use the deterministic HashEmbedder: no model load, no network.

Every test runs isolated: no SOURCED_* variable of the developer's shell reaches it, and
the per-user data and cache folders point into the test's own tmp dir.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrieval.config import Config, build_config
from tests.helpers import BUNDLED, HASH_CONFIG_YAML, build

# Tests must never reach a model hub, whatever the machine allows.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch) -> None:
    for name in list(os.environ):
        if name.startswith("SOURCED_"):
            monkeypatch.delenv(name)
    # The default index lives in the per-user data folder: never the developer's own. (The
    # cache, where the ONNX export of the real model is kept, stays shared: it is keyed by
    # the model's files and costs a minute to rebuild.)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("home") / "data"))


@pytest.fixture
def hash_config() -> Config:
    return build_config({"embedding": {"model": "hash"}})


@pytest.fixture
def bundled_index(tmp_path, hash_config):
    index_dir = tmp_path / "index"
    build(hash_config, index_dir, [BUNDLED])
    return index_dir


@pytest.fixture
def cli_env(tmp_path, monkeypatch) -> Path:
    """SOURCED_CONFIG (hash embedder) and SOURCED_INDEX_DIR pointing into ``tmp_path``."""
    config = tmp_path / "config.yaml"
    config.write_text(HASH_CONFIG_YAML)
    monkeypatch.setenv("SOURCED_CONFIG", str(config))
    monkeypatch.setenv("SOURCED_INDEX_DIR", str(tmp_path / "index"))
    return tmp_path


@pytest.fixture
def make_bot_context(tmp_path, bundled_index, hash_config):
    """A BotContext over the bundled index with the given reindex function."""
    from bot.context import BotContext
    from retrieval.config import BotSettings
    from retrieval.feedback import FeedbackStore
    from tests.helpers import service_for

    def make(reindex):
        service = service_for(hash_config, bundled_index)
        return BotContext(service, BotSettings(), FeedbackStore(tmp_path / "refresh-fb.sqlite"), reindex)

    return make
