"""One contract every registered vector-index kind keeps (as txtai runs one test class for
every ANN backend): ids are row numbers, recall against exact search, filters hold."""

import numpy as np
import pytest

from retrieval.store.folder import vectors as vector_index
from retrieval.store.folder.vectors import VECTOR_KINDS
from tests.helpers import clustered

# ivf-pq compresses to 48 bytes a vector: on 32-d toy data it keeps less recall than
# the others, and docs/scale.md shows it misses the 0.95 target on real vectors too.
RECALL_FLOOR = {"flat": 1.0, "ivf-pq": 0.5}


@pytest.fixture(scope="module")
def data():
    return clustered(4000, dim=48)


@pytest.mark.parametrize("kind", VECTOR_KINDS.names())
def test_every_kind_keeps_the_index_contract(kind, data):
    vectors, rng = data
    built = vector_index.build(vectors, kind)
    assert built.kind == kind and built.index.ntotal == len(vectors)
    vector_index.prepare_for_queries(built.index, built.params)
    # Ids are row numbers: every stored row finds itself first.
    probe = rng.choice(len(vectors), 20, replace=False)
    _, own = built.index.search(vectors[probe], 1)
    assert np.mean(own[:, 0] == probe) >= (1.0 if kind == "flat" else 0.8)
    # Recall@10 against exact search on question-like queries.
    queries = vectors[rng.choice(len(vectors), 100, replace=False)] + rng.normal(scale=0.05, size=(100, 48))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    _, got = built.index.search(queries, 10)
    recall = np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got, truth, strict=True)])
    assert recall >= RECALL_FLOOR.get(kind, 0.9), recall
    # A filter restricts the search to the allowed rows, exactly.
    allowed = np.sort(rng.choice(len(vectors), 200, replace=False)).astype(np.int64)
    params = vector_index.search_params(built.index, built.params, allowed)
    _, ids = built.index.search(queries[:5], 10, params=params)
    assert set(ids[ids >= 0].tolist()) <= set(allowed.tolist())


def test_an_empty_collection_builds_an_exact_index():
    built = vector_index.build(np.zeros((0, 8), dtype=np.float32), "ivf-sq8")
    assert built.kind == "flat" and built.index.ntotal == 0


def test_unknown_kind_names_the_choices():
    with pytest.raises(ValueError, match="use one of flat, ivf-flat"):
        vector_index.build(np.ones((3, 4), dtype=np.float32), "annoy")
