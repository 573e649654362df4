"""One contract for both stores: the folder of segments and PostgreSQL (pgvector) answer
the same questions with the same passages and scores, take the same updates, roll back,
refuse a second writer and a different model, and check clean with `sourced doctor`.

The tests themselves ship in the library (``retrieval.store.testing.StoreContract``), so a
third store runs them by subclassing it with its own ``make_store``, as these two do."""

from __future__ import annotations

import uuid

import pytest

from retrieval.store import FolderStore
from retrieval.store.testing import StoreContract

pytestmark = pytest.mark.slow


class TestFolderStore(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path):
        def make(name: str = "idx", keep: int = 5):
            return FolderStore(tmp_path / name, keep_generations=keep)

        return make


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path, request):
        """A new, empty schema in the shared server per name (the same name: the same schema)."""
        from retrieval.store.postgres.store import PgStore

        _, url = request.getfixturevalue("postgres")
        run = uuid.uuid4().hex[:8]

        def make(name: str = "idx", keep: int = 5):
            store = PgStore(url, tmp_path / name, schema=f"t_{run}_{name}", keep_generations=keep)
            request.addfinalizer(store.close)
            return store

        return make
