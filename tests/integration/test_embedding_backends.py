"""One contract every registered embedding backend keeps, on the real packaged model, and
the hash stand-in keeps too: unit float32 rows, a query embeds as its text does, word-piece
token counts, and no network."""

import numpy as np
import pytest

from retrieval.embedding import BACKENDS, HASH_MODEL, PACKAGED_MODEL, make_embedder
from retrieval.errors import ModelLoadError

pytestmark = pytest.mark.slow

TEXTS = ["Amazon sells Rekognition to police.", "The weather is nice today.", "Rekognition"]


@pytest.mark.parametrize("backend", [*BACKENDS.names(), "hash"])
def test_every_backend_keeps_the_embedder_contract(backend, tmp_path_factory):
    model = HASH_MODEL if backend == "hash" else PACKAGED_MODEL
    embedder = make_embedder(model, "torch" if backend == "hash" else backend, tmp_path_factory.mktemp("cache"))
    vectors = embedder.embed(TEXTS, batch_size=2)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), embedder.dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
    np.testing.assert_allclose(embedder.embed_query(TEXTS[0]), vectors[0], atol=2e-3)
    counts = embedder.count_tokens(TEXTS)
    assert len(counts) == len(TEXTS) and all(isinstance(c, int) and c > 0 for c in counts)
    assert counts[0] > counts[2]
    if backend != "hash":  # a real model puts a paraphrase nearer than an unrelated sentence
        query = embedder.embed_query("Who sells face recognition to the police?")
        assert query @ vectors[0] > query @ vectors[1] + 0.2


def test_an_unknown_backend_names_the_choices():
    with pytest.raises(ModelLoadError, match="use one of torch, onnx, onnx-int8"):
        make_embedder(PACKAGED_MODEL, "tensorrt")
