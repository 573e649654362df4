"""QueryService: validation, grouping by article, reloading a replaced index."""

import pytest

from retrieval.config import replace
from retrieval.embedding import HashEmbedder
from retrieval.errors import IndexMismatchError, QuestionError
from tests.helpers import BUNDLED, build, service_for


def test_answer_has_ranked_hits_with_sources(bundled_index, hash_config):
    by_relevance = replace(hash_config, search={"mmr_lambda": 1.0})  # MMR would reorder for variety
    answer = service_for(by_relevance, bundled_index).ask("civil and human rights groups coalition letters Amazon")
    assert len(answer.hits) == 5
    assert answer.hits[0].document.source == "003_dda86c09921c1694.txt"
    assert [h.rank for h in answer.hits] == [1, 2, 3, 4, 5]
    assert [h.score for h in answer.hits] == sorted((h.score for h in answer.hits), reverse=True)
    for hit in answer.hits:
        assert hit.document.text[hit.chunk.start : hit.chunk.end] == hit.text
        assert hit.document.display_source


def test_at_most_one_passage_per_article_by_default(bundled_index, hash_config):
    hits = service_for(hash_config, bundled_index).ask("facial recognition", k=10).hits
    assert len({h.document.id for h in hits}) == len(hits)
    two = replace(hash_config, search={"per_document": 2})
    hits = service_for(two, bundled_index).ask("facial recognition", k=10).hits
    assert max(sum(h.document.id == d for h in hits) for d in {h.document.id for h in hits}) == 2


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01", "\n\t"])
def test_empty_questions_are_refused(bundled_index, hash_config, question):
    with pytest.raises(QuestionError, match="empty"):
        service_for(hash_config, bundled_index).ask(question)


def test_overlong_question_is_refused(bundled_index, hash_config):
    with pytest.raises(QuestionError, match="limit is 1000"):
        service_for(hash_config, bundled_index).ask("why " * 400)


def test_weak_best_hit_is_not_answered(bundled_index, hash_config):
    strict = replace(hash_config, search={"min_score": 0.99})
    answer = service_for(strict, bundled_index).ask("banana bread recipe")
    assert not answer.answered and answer.hits  # weak hits still shown, marked unanswered


def test_service_picks_up_a_replaced_index(tmp_path, hash_config):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "one.txt").write_text("Zebras\n\nZebras have stripes.\n")
    build(hash_config, tmp_path / "idx", [folder])
    service = service_for(hash_config, tmp_path / "idx")
    assert service.ask("zebras stripes").hits[0].document.title == "Zebras"
    (folder / "two.txt").write_text("Penguins\n\nPenguins cannot fly.\n")
    build(hash_config, tmp_path / "idx", [folder])
    assert service.ask("penguins fly").hits[0].document.title == "Penguins"


def test_model_mismatch_is_a_clear_error(bundled_index, hash_config):
    other = HashEmbedder(dimension=64)
    with pytest.raises(IndexMismatchError, match="Run `sourced index`"):
        service_for(hash_config, bundled_index, embedder=other).ask("anything")


def test_stats(bundled_index, hash_config):
    stats = service_for(hash_config, bundled_index).stats()
    assert stats.documents == 15 and stats.chunks > 15
    assert stats.newest.year == 2022 and stats.outlets["(unknown outlet)"] == 2


def test_bundled_path_exists():
    assert (BUNDLED / "003_dda86c09921c1694.txt").is_file()


def test_confidence_is_that_of_the_page_shown(bundled_index, hash_config):
    service = service_for(hash_config, bundled_index)
    question = "a coalition of 90 civil and human rights groups called on the companies to refuse to sell"
    first = service.ask(question, k=1)
    later = service.ask(question, k=1, offset=4)
    for answer in (first, later):
        shown = max(max(h.similarity, h.sentence_similarity) for h in answer.hits)
        assert answer.confidence == pytest.approx(shown)
    # Judged on the first three shown, whatever k: a deeper close passage does not vouch.
    deep = service.ask(question, k=10)
    top3 = max(max(h.similarity, h.sentence_similarity) for h in deep.hits[:3])
    assert deep.confidence == pytest.approx(top3) and deep.answered == service.ask(question, k=3).answered
    # The close first passage must not vouch for a page that does not show it.
    assert later.confidence < first.confidence
    threshold = (first.confidence + later.confidence) / 2
    strict = service_for(replace(hash_config, search={"min_score": threshold}), bundled_index)
    assert strict.ask(question, k=1).answered
    assert not strict.ask(question, k=1, offset=4).answered
