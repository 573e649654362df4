"""One contract for both stores: the folder of segments and PostgreSQL (pgvector) answer
the same questions with the same passages and scores, take the same updates, roll back,
refuse a second writer and a different model, and check clean with `sourced doctor`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from retrieval.config import build_config
from retrieval.embedding import HashEmbedder
from retrieval.errors import IndexBusyError, IndexMismatchError
from retrieval.ingest.indexer import Indexer
from retrieval.query.ranking import Filters
from retrieval.query.service import QueryService
from retrieval.store import FolderStore, check_index
from tests.helpers import BUNDLED, ROOT

pytestmark = pytest.mark.slow

QUESTIONS = [q["q"] for q in yaml.safe_load((ROOT / "data" / "questions.yaml").read_text())["questions"]]


@pytest.fixture(params=["folder", "postgresql"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def make_store(kind, tmp_path, request):
    """A new, empty store of this test's kind (a fresh schema in the shared server)."""

    def make(name: str = "idx", keep: int = 5):
        if kind == "folder":
            return FolderStore(tmp_path / name, keep_generations=keep)
        from retrieval.store.postgres.store import PgStore

        _, url = request.getfixturevalue("postgres")
        store = PgStore(url, tmp_path / name, schema=f"t_{uuid.uuid4().hex[:12]}", keep_generations=keep)
        request.addfinalizer(store.close)
        return store

    return make


def _answers(service: QueryService, question: str, filters: Filters | None = None) -> list[tuple[str, str, float]]:
    answer = service.ask(question, k=5, filters=filters)
    return [(hit.document.id, hit.chunk.text, round(hit.score, 4)) for hit in answer.hits]


@pytest.fixture(scope="module")
def folder_answers(tmp_path_factory) -> dict[str, list]:
    """What the folder store answers over the bundled articles: the reference."""
    config = build_config({"embedding": {"model": "hash"}})
    store = FolderStore(tmp_path_factory.mktemp("reference") / "idx")
    Indexer(config, store, HashEmbedder()).run([BUNDLED])
    service = QueryService(store, HashEmbedder, config.search)
    return {q: _answers(service, q) for q in QUESTIONS}


def test_both_stores_answer_every_bundled_question_alike(make_store, folder_answers, hash_config):
    store = make_store()
    report = Indexer(hash_config, store, HashEmbedder()).run([BUNDLED])
    assert report.documents == 15 and report.chunks == 29
    service = QueryService(store, HashEmbedder, hash_config.search)
    for question in QUESTIONS:
        assert _answers(service, question) == folder_answers[question], question
    filtered = service.ask("facial recognition", k=5, filters=Filters(outlet="cnet")).hits
    assert filtered and all("cnet" in (h.document.outlet or "").lower() for h in filtered)
    dated = service.ask("facial recognition", k=20, filters=Filters(since=datetime(2022, 1, 1, tzinfo=UTC))).hits
    assert dated and all(h.document.published.year == 2022 for h in dated)
    assert check_index(store).ok, check_index(store).problems


def _article(folder: Path, name: str, title: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(
        f"---\ntitle: {title}\noutlet: Test Wire\ndate: 2024-05-0{len(name) % 9 + 1}\n---\n{text}\n"
    )


def test_updates_rollback_and_kept_generations(make_store, hash_config, tmp_path):
    store = make_store(keep=3)
    indexer = Indexer(hash_config, store, HashEmbedder())
    news = tmp_path / "news"
    _article(news, "a.md", "Lighthouse keepers strike", "The lighthouse keepers of the northern coast went on strike.")
    _article(news, "b.md", "Glacier retreat measured", "Surveyors measured the glacier retreat at forty metres.")
    first = indexer.run([news])
    assert (first.added, first.documents) == (2, 2)
    service = QueryService(store, HashEmbedder, hash_config.search)
    assert service.ask("lighthouse keepers strike").hits[0].document.title == "Lighthouse keepers strike"

    same = store.current_name()
    assert not indexer.run([news]).written and store.current_name() == same  # nothing changed: no write

    _article(news, "a.md", "Lighthouse keepers strike", "The lighthouse keepers settled after a week of talks.")
    _article(news, "c.md", "Orchard frost", "A late frost damaged the apple orchards of the valley.")
    second = indexer.run([news])
    assert (second.added, second.updated, second.documents) == (1, 1, 3)
    assert len(second.new_ids) == 1
    top = service.ask("lighthouse keepers settled talks").hits[0]
    assert "settled" in top.chunk.text
    assert "went on strike" not in " ".join(h.chunk.text for h in service.ask("lighthouse keepers strike", k=10).hits)

    (news / "b.md").unlink()
    third = indexer.run([news])
    assert (third.removed, third.documents) == (1, 2)
    assert all("glacier" not in h.chunk.text.lower() for h in service.ask("glacier retreat", k=10).hits)

    undone, live = indexer.rollback()
    assert live != undone and store.current_name() == live
    assert service.ask("glacier retreat").hits[0].document.title == "Glacier retreat measured"
    assert len(store.generations()) <= 3
    assert check_index(store).ok, check_index(store).problems


def test_a_second_writer_is_refused(make_store):
    store = make_store()
    twin = _twin(store)
    with store.writer_lock(), pytest.raises(IndexBusyError, match="being written"), twin.writer_lock():
        pass


def _twin(store):
    """Another handle on the same index, as another process would have."""
    if isinstance(store, FolderStore):
        return FolderStore(store.path)
    from retrieval.store.postgres.store import PgStore

    return PgStore(store.url, store.path, store.schema)


def test_another_model_is_refused(make_store, hash_config):
    store = make_store()
    Indexer(hash_config, store, HashEmbedder()).run([BUNDLED])

    service = QueryService(store, lambda: HashEmbedder(128), hash_config.search)
    with pytest.raises(IndexMismatchError, match="was built with the model"):
        service.ask("facial recognition")


def test_compact_keeps_the_answers(make_store, hash_config, tmp_path):
    store = make_store()
    indexer = Indexer(hash_config, store, HashEmbedder())
    news = tmp_path / "news"
    _article(news, "a.md", "Harbour dredging", "The harbour dredging begins in spring.")
    indexer.run([BUNDLED, news])
    (news / "a.md").unlink()
    indexer.run([BUNDLED, news])
    service = QueryService(store, HashEmbedder, hash_config.search)
    before = _answers(service, "facial recognition ban")
    indexer.compact()
    assert _answers(service, "facial recognition ban") == before
    assert check_index(store).ok


def test_without_sentence_vectors(make_store):
    """Benchmarks index passages only (index.sentence_vectors: false); both stores take that."""
    config = build_config({"embedding": {"model": "hash"}, "index": {"sentence_vectors": False}})
    store = make_store()
    report = Indexer(config, store, HashEmbedder()).run([BUNDLED])
    assert report.chunks == 29 and report.sentences_embedded == 0
    answer = QueryService(store, HashEmbedder, config.search).ask("Which city moved to ban facial recognition?")
    assert any("Boston" in h.chunk.text for h in answer.hits[:3])


def test_a_rebuild_answers_as_before_and_can_be_rolled_back(make_store, hash_config, folder_answers):
    store = make_store()
    indexer = Indexer(hash_config, store, HashEmbedder())
    indexer.run([BUNDLED])
    before = store.current_name()
    rebuilt = indexer.run([BUNDLED], rebuild=True)
    assert rebuilt.written and store.current_name() != before
    service = QueryService(store, HashEmbedder, hash_config.search)
    for question in QUESTIONS[:8]:
        assert _answers(service, question) == folder_answers[question], question
    undone, live = indexer.rollback()
    assert live == before and undone != before
    assert _answers(service, QUESTIONS[0]) == folder_answers[QUESTIONS[0]]
    assert check_index(store).ok
