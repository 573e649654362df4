"""The news-tuned model: assembled from the packaged one plus the committed layers, once,
and run by every backend like the packaged model."""

import numpy as np
import pytest

from retrieval.embedding import BACKENDS, PACKAGED_MODEL_ID, make_embedder, packaged_model_path
from retrieval.embedding import tuned as tuned_module
from retrieval.embedding.tuned import MODELS_DIR, TUNED, tuned_model
from retrieval.errors import ModelLoadError

pytestmark = pytest.mark.slow

NAME = "all-MiniLM-L6-v2-news"


def test_the_assembled_model_is_the_packaged_one_with_only_the_shipped_tensors_replaced(tmp_path):
    from safetensors.numpy import load_file

    folder, model_id = tuned_model(NAME, tmp_path)
    assert model_id.startswith(PACKAGED_MODEL_ID + "+") and model_id != PACKAGED_MODEL_ID
    packaged = load_file(str(packaged_model_path() / "model.safetensors"))
    assembled = load_file(str(folder / "model.safetensors"))
    with np.load(MODELS_DIR / TUNED[NAME][0]) as shipped:
        replaced = {k: shipped[k] for k in shipped.files if not k.startswith("__")}
    assert replaced and set(assembled) == set(packaged)
    # Whole transformer layers are replaced, never the word embeddings (the bulk of the model).
    assert not any(k.startswith("embeddings.") for k in replaced)
    for key, value in assembled.items():
        expected = replaced[key].astype(np.float32) if key in replaced else packaged[key]
        np.testing.assert_array_equal(value, expected, err_msg=key)
    changed = [k for k in replaced if not np.array_equal(replaced[k].astype(np.float32), packaged[k])]
    assert len(changed) > len(replaced) // 2  # the file holds trained layers, not copies


def test_the_model_is_assembled_once_and_then_reused(tmp_path):
    folder, _ = tuned_model(NAME, tmp_path)
    weights = folder / "model.safetensors"
    before = weights.stat().st_mtime_ns
    again, _ = tuned_model(NAME, tmp_path)
    assert again == folder and weights.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


def test_a_file_that_does_not_fit_the_packaged_model_is_one_clear_error(tmp_path, monkeypatch):
    bad = tmp_path / "models"
    bad.mkdir()
    np.savez(
        bad / "bad.npz",
        __base__=np.array(PACKAGED_MODEL_ID),
        **{"encoder.layer.5.output.dense.weight": np.zeros((3, 3), np.float16)},
    )
    monkeypatch.setattr(tuned_module, "MODELS_DIR", bad)
    monkeypatch.setitem(tuned_module.TUNED, "broken", ("bad.npz", "broken-v1"))
    with pytest.raises(ModelLoadError, match=r"does not fit the packaged model \(tensor encoder.layer.5"):
        tuned_model("broken", tmp_path / "cache")
    (bad / "junk.npz").write_bytes(b"not a zip file")
    monkeypatch.setitem(tuned_module.TUNED, "junk", ("junk.npz", "junk-v1"))
    with pytest.raises(ModelLoadError, match=r"junk\.npz cannot be read"):
        tuned_model("junk", tmp_path / "cache")
    monkeypatch.setitem(tuned_module.TUNED, "missing", ("absent.npz", "missing-v1"))
    with pytest.raises(ModelLoadError, match="cannot be read"):
        tuned_model("missing", tmp_path / "cache")


@pytest.mark.parametrize("backend", BACKENDS.names())
def test_every_backend_runs_the_tuned_model_and_its_vectors_differ_from_the_packaged_ones(backend, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    tuned = make_embedder(NAME, backend, cache)
    packaged = make_embedder("all-MiniLM-L6-v2", "torch")
    assert tuned.model_id == TUNED[NAME][1] and tuned.dimension == 384
    texts = ["Amazon sells Rekognition to police.", "The weather is nice today."]
    vectors = tuned.embed(texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
    # Same model family (close to the packaged vectors), not the same weights.
    similarity = (vectors * packaged.embed(texts)).sum(axis=1)
    assert (similarity > 0.5).all() and (similarity < 0.999).all(), similarity
    query = tuned.embed_query("Who sells face recognition to the police?")
    assert query @ vectors[0] > query @ vectors[1] + 0.2


def test_an_unknown_model_name_lists_the_tuned_one():
    with pytest.raises(ModelLoadError, match=f"'{NAME}'"):
        make_embedder("no-such-model")


def test_a_cache_that_cannot_take_the_weights_is_one_clear_error_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import safetensors.numpy

    def disk_full(tensors, path):
        with open(path, "wb") as fh:
            fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.numpy, "save_file", disk_full)
    with pytest.raises(ModelLoadError, match=r"No space left on device.*SOURCED_CACHE_DIR"):
        tuned_model(NAME, tmp_path)
    (folder,) = tmp_path.iterdir()
    assert not any(p.name.startswith("model.safetensors") for p in folder.iterdir())
    monkeypatch.undo()
    # A process killed while writing the weights leaves its partial file behind.
    (folder / "model.safetensors.tmp4242").write_bytes(b"partial")
    assert (tuned_model(NAME, tmp_path)[0] / "model.safetensors").is_file()  # the next run completes
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("model.safetensors")) == ["model.safetensors"]


def test_taking_the_assembled_folders_lock_does_not_invalidate_its_onnx_export(tmp_path):
    import os

    from retrieval.embedding.export import _model_key

    folder, _ = tuned_model(NAME, tmp_path)
    key = _model_key(folder)
    lock = folder / ".lock"
    assert lock.exists()
    os.utime(lock, ns=(1, 1))  # as another process taking the lock may leave it
    assert _model_key(folder) == key
    os.utime(folder / "config.json", ns=(1, 1))  # a real change to the model folder still counts
    assert _model_key(folder) != key
