"""Query adapters: loaded by name or path, applied to questions only, tied to their model."""

import numpy as np
import pytest

from retrieval.embedding import PACKAGED_MODEL_ID, HashEmbedder
from retrieval.embedding.adapter import AdaptedEmbedder, QueryAdapter, load_adapter, with_adapter
from retrieval.errors import ModelLoadError


def test_bundled_news_adapter_is_for_the_packaged_model():
    adapter = load_adapter("news")
    assert adapter.model_id == PACKAGED_MODEL_ID
    assert adapter.matrix.shape == (384, 384) and adapter.matrix.dtype == np.float32
    assert np.isfinite(adapter.matrix).all() and np.abs(adapter.matrix).max() > 0


def test_none_means_no_adapter():
    embedder = HashEmbedder()
    assert load_adapter("none") is None
    assert with_adapter(embedder, "none") is embedder


def test_a_bundled_adapter_is_skipped_for_another_model():
    embedder = HashEmbedder()
    assert with_adapter(embedder, "news") is embedder


def _save(path, matrix, model_id):
    np.savez(path, matrix=matrix, model_id=np.array(model_id))
    return str(path)


def test_questions_move_and_passages_do_not(tmp_path):
    inner = HashEmbedder()
    rng = np.random.default_rng(0)
    path = _save(tmp_path / "a.npz", 0.5 * rng.standard_normal((inner.dimension, inner.dimension)), inner.model_id)
    adapted = with_adapter(inner, path)
    assert isinstance(adapted, AdaptedEmbedder)
    assert adapted.model_id == inner.model_id and adapted.dimension == inner.dimension
    texts = ["Boston bans facial recognition", "The coalition sent letters"]
    assert np.array_equal(adapted.embed(texts), inner.embed(texts))
    q = adapted.embed_query("Which city banned facial recognition?")
    assert q.dtype == np.float32 and np.linalg.norm(q) == pytest.approx(1.0, abs=1e-5)
    assert float(q @ inner.embed_query("Which city banned facial recognition?")) < 0.999


def test_a_zero_adapter_changes_nothing():
    inner = HashEmbedder()
    adapter = QueryAdapter(np.zeros((inner.dimension, inner.dimension), np.float32), inner.model_id, "zero")
    q = "Which city banned facial recognition?"
    assert np.allclose(AdaptedEmbedder(inner, adapter).embed_query(q), inner.embed_query(q), atol=1e-6)


def test_adapter_files_that_do_not_fit_are_clear_errors(tmp_path):
    inner = HashEmbedder()
    other = _save(tmp_path / "other.npz", np.zeros((inner.dimension,) * 2), "some/other-model")
    with pytest.raises(ModelLoadError, match="trained for some/other-model"):
        with_adapter(inner, other)
    small = _save(tmp_path / "small.npz", np.zeros((8, 8)), inner.model_id)
    with pytest.raises(ModelLoadError, match="8-dimension"):
        with_adapter(inner, small)
    with pytest.raises(ModelLoadError, match="not a square matrix"):
        load_adapter(_save(tmp_path / "flat.npz", np.zeros(8), inner.model_id))
    with pytest.raises(ModelLoadError, match="Cannot read the query adapter"):
        load_adapter(str(tmp_path / "missing.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="Cannot read the query adapter"):
        load_adapter(str(tmp_path / "junk.npz"))


def test_similarities_shown_are_the_models_own_with_an_adapter(tmp_path, hash_config, bundled_index):
    from retrieval.query.service import QueryService
    from retrieval.store import FolderStore

    inner = HashEmbedder()
    rng = np.random.default_rng(1)
    path = _save(tmp_path / "a.npz", 0.3 * rng.standard_normal((inner.dimension, inner.dimension)), inner.model_id)
    adapted = with_adapter(inner, path)
    service = QueryService(FolderStore(bundled_index), lambda: adapted, hash_config.search)
    question = "coalition of civil rights groups letters to Amazon"
    answer = service.ask(question)
    snap = service.snapshot()
    rows = {(rec.doc_id, rec.ordinal): row for recs in snap.chunk_records().values() for row, rec in recs}
    plain = inner.embed_query(question)
    for hit in answer.hits:
        row = rows[(hit.document.id, hit.chunk.ordinal)]
        assert hit.similarity == pytest.approx(float(snap.vectors([row])[0] @ plain), abs=1e-5)
    assert answer.confidence == pytest.approx(max(max(h.similarity, h.sentence_similarity) for h in answer.hits))
