"""The answer re-ranker stage of QueryService, with a tiny fake scorer (no weights loaded)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.config import replace
from retrieval.embedding import HashEmbedder
from retrieval.query.service import QueryService
from retrieval.store import FolderStore


class PhraseScorer:
    """Says a passage answers when it holds ``phrase``; records what it read."""

    def __init__(self, phrase: str) -> None:
        self.phrase = phrase
        self.calls: list[tuple[str, int]] = []

    def score(self, question, passages):
        self.calls.append((question, len(passages)))
        return np.array([0.9 if self.phrase in " ".join(p.split()) else 0.1 for p in passages])


def _service(config, index_dir, scorer, **search):
    settings = replace(config, search={"rerank": True, **search}).search
    return QueryService(FolderStore(index_dir), HashEmbedder, settings, reranker=lambda: scorer)


def test_the_reranker_orders_the_best_passages_and_decides_answered(bundled_index, hash_config):
    question = "who urged Amazon to stop selling Rekognition?"
    scorer = PhraseScorer("Electronic Frontier Foundation")
    answer = _service(hash_config, bundled_index, scorer, rerank_depth=30).ask(question, k=3)
    assert scorer.calls and scorer.calls[0][0] == question and scorer.calls[0][1] <= 30
    # Articles keep their fused scores (the first stays first; later ones may move by MMR,
    # which compares the passages shown); the article holding the phrase shows that passage.
    plain = _service(hash_config, bundled_index, scorer, rerank=False).ask(question, k=3)
    assert answer.hits[0].document.id == plain.hits[0].document.id
    assert any("Electronic Frontier Foundation" in " ".join(h.text.split()) for h in answer.hits)
    assert answer.support == pytest.approx(0.9) and answer.answered
    # With rerank_weight, the re-ranker's score also moves articles: the phrase comes first.
    moved = _service(hash_config, bundled_index, scorer, rerank_depth=30, rerank_weight=1.0).ask(question, k=3)
    assert "Electronic Frontier Foundation" in " ".join(moved.hits[0].text.split())
    # The same question abstains when nothing read answers.
    none = _service(hash_config, bundled_index, PhraseScorer("no passage says this")).ask(question)
    assert none.support == pytest.approx(0.1) and not none.answered
    assert none.hits  # the closest passages are still shown


def test_rerank_min_is_the_threshold(bundled_index, hash_config):
    scorer = PhraseScorer("Electronic Frontier Foundation")
    strict = _service(hash_config, bundled_index, scorer, rerank_depth=30, rerank_min=0.95)
    answer = strict.ask("who urged Amazon to stop selling Rekognition?")
    assert answer.support == pytest.approx(0.9) and not answer.answered


def test_rerank_off_gives_back_the_fused_path(bundled_index, hash_config):
    scorer = PhraseScorer("Electronic Frontier Foundation")
    off = _service(hash_config, bundled_index, scorer, rerank=False)
    plain = QueryService(FolderStore(bundled_index), HashEmbedder, hash_config.search)
    question = "Which companies received the coalition's letters?"
    a, b = off.ask(question), plain.ask(question)
    assert not scorer.calls and a.support is None and b.support is None
    assert [h.chunk.id for h in a.hits] == [h.chunk.id for h in b.hits] and a.answered == b.answered


def test_the_hash_embedder_gets_no_reranker_by_default(bundled_index, hash_config):
    assert not hash_config.search.rerank  # off by default: docs/quality.md
    on = replace(hash_config, search={"rerank": True}).search
    assert QueryService(FolderStore(bundled_index), HashEmbedder, on).reranker() is None


def test_reranker_weights_are_assembled_on_the_packaged_model(tmp_path):
    """Assembling reads the weights file and the packaged model only (no ONNX, no torch)."""
    from retrieval.embedding.base import PACKAGED_MODEL_ID
    from retrieval.query.rerank import assemble

    deltas = tmp_path / "tiny.npz"
    layer = np.ones(384, dtype=np.float16)  # one replaced tensor, the rest as packaged
    np.savez(
        deltas,
        **{"encoder.layer.0.output.LayerNorm.bias": layer},
        **{"head.weight": np.full((1, 384), 0.5, np.float32), "head.bias": np.array([0.25], np.float32)},
        __base__=np.array(PACKAGED_MODEL_ID),
        __layers__=np.array(1),
    )
    folder, (weight, bias) = assemble(deltas, tmp_path / "cache")
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert weight.shape == (384,) and bias == pytest.approx(0.25)
    from safetensors.numpy import load_file

    tensors = load_file(str(folder / "model.safetensors"))
    assert not any(k.startswith("encoder.layer.1.") for k in tensors)
    np.testing.assert_array_equal(tensors["encoder.layer.0.output.LayerNorm.bias"], 1.0)


def test_missing_reranker_weights_say_how_to_make_them(tmp_path):
    from retrieval.errors import ModelLoadError
    from retrieval.query.rerank import assemble

    with pytest.raises(ModelLoadError, match="train_reranker"):
        assemble(tmp_path / "absent.npz", tmp_path)
