"""The store contract as tests any store runs (as Haystack's ``haystack/testing`` mixins do).

A store's test module subclasses :class:`StoreContract` and provides one fixture,
``make_store``: a factory ``make_store(name="idx", keep=5) -> Store`` of new, empty stores
in the test's own space, where two calls with the same ``name`` give two handles on the
same index (as two processes would have). Every test then runs on that store: it must
answer the bundled questions exactly as the folder store does (the reference), take
updates, roll back, keep ``keep`` generations, refuse a second writer and another model,
compact without changing an answer, and check clean with ``doctor``.

Needs pytest (a test dependency); nothing in sourced imports this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.config import build_config
from retrieval.embedding import HashEmbedder
from retrieval.errors import IndexBusyError, IndexMismatchError
from retrieval.ingest.indexer import Indexer
from retrieval.paths import bundled_articles
from retrieval.query.ranking import Filters
from retrieval.query.service import QueryService
from retrieval.store import FolderStore, check_index

# Questions over the bundled articles the reference answers are taken for.
QUESTIONS = [
    "who urged Amazon to stop selling Rekognition?",
    "Which city moved to ban facial recognition?",
    "What did Microsoft say about regulation?",
    "facial recognition ban",
    "Which companies received the coalition's letters?",
    "How accurate is facial recognition for darker-skinned women?",
    "What did the IRS decide about ID.me?",
    "Why did Portland ban face recognition in private places?",
    "police use of face surveillance",
    "Rekognition",
]


def _answers(service: QueryService, question: str, filters: Filters | None = None) -> list[tuple[str, str, float]]:
    answer = service.ask(question, k=5, filters=filters)
    return [(hit.document.id, hit.chunk.text, round(hit.score, 4)) for hit in answer.hits]


def _article(folder: Path, name: str, title: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(
        f"---\ntitle: {title}\noutlet: Test Wire\ndate: 2024-05-0{len(name) % 9 + 1}\n---\n{text}\n"
    )


class StoreContract:
    """Mix into a test class that defines the ``make_store`` fixture (see the module)."""

    @pytest.fixture
    def contract_config(self):
        return build_config({"embedding": {"model": "hash"}})

    @pytest.fixture(scope="class")
    @classmethod
    def reference_answers(cls, tmp_path_factory) -> dict[str, list]:
        """What the folder store answers over the bundled articles: the reference."""
        config = build_config({"embedding": {"model": "hash"}})
        store = FolderStore(tmp_path_factory.mktemp("reference") / "idx")
        Indexer(config, store, HashEmbedder()).run([bundled_articles()])
        service = QueryService(store, HashEmbedder, config.search)
        return {q: _answers(service, q) for q in QUESTIONS}

    def test_both_stores_answer_every_bundled_question_alike(self, make_store, reference_answers, contract_config):
        store = make_store()
        report = Indexer(contract_config, store, HashEmbedder()).run([bundled_articles()])
        assert report.documents == 15 and report.chunks == 29
        service = QueryService(store, HashEmbedder, contract_config.search)
        for question in QUESTIONS:
            assert _answers(service, question) == reference_answers[question], question
        filtered = service.ask("facial recognition", k=5, filters=Filters(outlet="cnet")).hits
        assert filtered and all("cnet" in (h.document.outlet or "").lower() for h in filtered)
        dated = service.ask("facial recognition", k=20, filters=Filters(since=datetime(2022, 1, 1, tzinfo=UTC))).hits
        assert dated and all(h.document.published.year == 2022 for h in dated)
        assert check_index(store).ok, check_index(store).problems

    def test_an_outlet_filter_leaves_out_a_claim_its_site_did_not_bear_out(self, make_store, contract_config, tmp_path):
        store = make_store()
        news = tmp_path / "wires"
        for name, outlet in (("real.md", "Reuters"), ("claim.md", "Reuters (evil.example)")):
            news.mkdir(parents=True, exist_ok=True)
            (news / name).write_text(
                f"---\ntitle: Port strike {name}\noutlet: {outlet}\n---\nPort workers end strike.\n"
            )
        Indexer(contract_config, store, HashEmbedder()).run([news])
        service = QueryService(store, HashEmbedder, contract_config.search)

        def outlets(text: str) -> set[str | None]:
            return {h.document.outlet for h in service.ask("port strike", filters=Filters(outlet=text)).hits}

        assert outlets("reuters") == {"Reuters"}
        assert outlets("Reuters (evil") == {"Reuters (evil.example)"}

    def test_updates_rollback_and_kept_generations(self, make_store, contract_config, tmp_path):
        store = make_store(keep=3)
        indexer = Indexer(contract_config, store, HashEmbedder())
        news = tmp_path / "news"
        _article(
            news, "a.md", "Lighthouse keepers strike", "The lighthouse keepers of the northern coast went on strike."
        )
        _article(news, "b.md", "Glacier retreat measured", "Surveyors measured the glacier retreat at forty metres.")
        first = indexer.run([news])
        assert (first.added, first.documents) == (2, 2)
        service = QueryService(store, HashEmbedder, contract_config.search)
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
        assert "went on strike" not in " ".join(
            h.chunk.text for h in service.ask("lighthouse keepers strike", k=10).hits
        )

        (news / "b.md").unlink()
        third = indexer.run([news])
        assert (third.removed, third.documents) == (1, 2)
        assert all("glacier" not in h.chunk.text.lower() for h in service.ask("glacier retreat", k=10).hits)

        # History: each kept generation with what it changed, read through open_generation().
        from retrieval.store.history import history

        steps = history(store)
        assert [g.live for g in steps][-1] and [g.name for g in steps] == store.generations()
        assert [(len(g.added), len(g.removed), len(g.changed)) for g in steps[-2:]] == [(1, 0, 1), (0, 1, 0)]
        assert list(steps[-1].titles.values()) == ["Glacier retreat measured"]

        undone, live = indexer.rollback()
        assert live != undone and store.current_name() == live
        assert service.ask("glacier retreat").hits[0].document.title == "Glacier retreat measured"
        assert len(store.generations()) <= 3
        assert check_index(store).ok, check_index(store).problems

    def test_a_second_writer_is_refused(self, make_store):
        store = make_store()
        twin = make_store()  # another handle on the same index, as another process would have
        with store.writer_lock(), pytest.raises(IndexBusyError, match="being written"), twin.writer_lock():
            pass

    def test_another_model_is_refused(self, make_store, contract_config):
        store = make_store()
        Indexer(contract_config, store, HashEmbedder()).run([bundled_articles()])

        service = QueryService(store, lambda: HashEmbedder(128), contract_config.search)
        with pytest.raises(IndexMismatchError, match="was built with the model"):
            service.ask("facial recognition")

    def test_compact_keeps_the_answers(self, make_store, contract_config, tmp_path):
        store = make_store()
        indexer = Indexer(contract_config, store, HashEmbedder())
        news = tmp_path / "news"
        _article(news, "a.md", "Harbour dredging", "The harbour dredging begins in spring.")
        indexer.run([bundled_articles(), news])
        (news / "a.md").unlink()
        indexer.run([bundled_articles(), news])
        service = QueryService(store, HashEmbedder, contract_config.search)
        before = _answers(service, "facial recognition ban")
        indexer.compact()
        assert _answers(service, "facial recognition ban") == before
        assert check_index(store).ok

    def test_without_sentence_vectors(self, make_store):
        """Benchmarks index passages only (index.sentence_vectors: false); both stores take that."""
        config = build_config({"embedding": {"model": "hash"}, "index": {"sentence_vectors": False}})
        store = make_store()
        report = Indexer(config, store, HashEmbedder()).run([bundled_articles()])
        assert report.chunks == 29 and report.sentences_embedded == 0
        answer = QueryService(store, HashEmbedder, config.search).ask("Which city moved to ban facial recognition?")
        assert any("Boston" in h.chunk.text for h in answer.hits[:3])

    def test_a_rebuild_answers_as_before_and_can_be_rolled_back(self, make_store, contract_config, reference_answers):
        store = make_store()
        indexer = Indexer(contract_config, store, HashEmbedder())
        indexer.run([bundled_articles()])
        before = store.current_name()
        rebuilt = indexer.run([bundled_articles()], rebuild=True)
        assert rebuilt.written and store.current_name() != before
        service = QueryService(store, HashEmbedder, contract_config.search)
        for question in QUESTIONS[:8]:
            assert _answers(service, question) == reference_answers[question], question
        undone, live = indexer.rollback()
        assert live == before and undone != before
        assert _answers(service, QUESTIONS[0]) == reference_answers[QUESTIONS[0]]
        assert check_index(store).ok
