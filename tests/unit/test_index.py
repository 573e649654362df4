"""The persisted index: search against brute force, atomic writes, manifest checks, locking."""

import json
import math
import threading

import numpy as np
import pytest

from retrieval.errors import IndexBusyError, IndexMismatchError, IndexMissingError, IndexWriteError
from retrieval.store import FORMAT_VERSION, ChunkRecord, FolderStore
from retrieval.types import Document
from tests.helpers import clustered


def random_index(tmp_path, n=500, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [Document(id=f"d{i}", title=f"T{i}", text=f"text number {i}", source=f"f{i}.txt") for i in range(n)]
    chunks = [ChunkRecord(f"d{i}", 0, 0, len(docs[i].text), f"h{i}") for i in range(n)]
    store = FolderStore(tmp_path / "idx")
    with store.writer_lock():
        store.write(docs, chunks, vectors, {"model_id": "test", "dimension": dim, "chunking": {}})
    return store, vectors, rng


def test_search_matches_brute_force(tmp_path):
    store, vectors, rng = random_index(tmp_path)
    snap = store.open()
    for _ in range(20):
        q = rng.normal(size=vectors.shape[1]).astype(np.float32)
        q /= np.linalg.norm(q)
        # Passage vectors are stored as float16: the oracle searches what is stored.
        stored = vectors.astype(np.float16).astype(np.float32)
        expected = np.argsort(-(stored @ q))[:10]
        got = snap.search(q, 10)
        assert [row for row, _ in got] == expected.tolist()
        np.testing.assert_allclose([s for _, s in got], (stored @ q)[expected], rtol=1e-5)
        np.testing.assert_allclose(snap.vectors(expected), stored[expected], rtol=0)


def test_rows_map_back_to_chunks_and_documents(tmp_path):
    store, _, _ = random_index(tmp_path, n=20)
    found = store.open().chunks([3, 7])
    chunk, doc = found[7]
    assert doc.id == "d7" and chunk.text == "text number 7" == doc.text[chunk.start : chunk.end]


def test_missing_index_says_what_to_run(tmp_path):
    with pytest.raises(IndexMissingError, match="sourced index"):
        FolderStore(tmp_path / "none").open()


def test_manifest_format_version_is_checked(tmp_path):
    store, _, _ = random_index(tmp_path, n=5)
    manifest = store.path / store.current_name() / "manifest.json"
    data = json.loads(manifest.read_text())
    assert data["format_version"] == FORMAT_VERSION and data["dimension"] == 32 and data["chunks"] == 5
    data["format_version"] = 999
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError, match="Run `sourced index` to update it"):
        store.open()


def test_failed_write_leaves_previous_index_live(tmp_path, monkeypatch):
    store, _vectors, _ = random_index(tmp_path, n=10)
    before = store.current_name()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    from retrieval.store.lexical import Postings

    monkeypatch.setattr(Postings, "save", disk_full)  # the disk fills up half-way through a segment
    doc = Document(id="new", title="New", text="a new article", source="new.txt")
    with store.writer_lock(), pytest.raises(IndexWriteError, match="previous index is unchanged"):
        store.write(
            [doc],
            [ChunkRecord("new", 0, 0, 5, "h")],
            np.ones((1, 32), np.float32) / 32**0.5,
            {"model_id": "test", "dimension": 32},
        )
    assert store.current_name() == before
    assert store.open().chunk_count == 10
    assert not list(store.path.glob(".tmp-*"))


def test_a_second_writer_is_refused(tmp_path):
    store = FolderStore(tmp_path / "idx")
    with store.writer_lock():
        errors = []

        def other():
            try:
                with FolderStore(tmp_path / "idx").writer_lock():
                    pass
            except IndexBusyError as exc:
                errors.append(str(exc))

        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert errors and "being written by process" in errors[0]
    with store.writer_lock():  # released: can be taken again
        pass


def test_old_generations_are_pruned(tmp_path):
    store, vectors, _ = random_index(tmp_path, n=5)
    store.keep_generations = 2
    docs = store.open().documents()
    chunks = [ChunkRecord(d.id, 0, 0, 1, "h") for d in docs]
    for _ in range(3):
        with store.writer_lock():
            store.write(docs, chunks, vectors, {"model_id": "test", "dimension": 32, "chunking": {}})
    gens = sorted(p.name.rsplit("-", 1)[0] for p in store.path.glob("gen-*"))
    assert gens == ["gen-000003", "gen-000004"] and store.current_name().startswith("gen-000004-")
    # Only the segments the kept generations use are left.
    assert {p.name for p in (store.path / "segments").iterdir()} == store.referenced_segments()
    assert len(store.referenced_segments()) == 2


@pytest.mark.parametrize("kind", ["ivf-flat", "ivf-sq8", "hnsw"])
def test_approximate_kinds_keep_recall_against_exact(kind):
    from retrieval.store.folder import vectors as vector_index

    data, rng = clustered(6000)
    built = vector_index.build(data, kind)
    assert built.kind == kind
    vector_index.prepare_for_queries(built.index, built.params)
    queries = data[rng.choice(len(data), 100, replace=False)] + rng.normal(scale=0.05, size=(100, 32)).astype(
        np.float32
    )
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    _, got = built.index.search(queries, 10)
    recall = np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got, truth, strict=True)])
    assert recall >= 0.9


def test_auto_kind_is_exact_for_small_collections():
    from retrieval.store.folder import vectors as vector_index

    assert vector_index.choose_kind(1000) == "flat"
    assert vector_index.choose_kind(vector_index.EXACT_LIMIT + 1) != "flat"


def test_tune_returns_the_smallest_setting_that_reaches_the_recall_target():
    from retrieval.store.folder import vectors as vector_index

    truth = np.arange(40, dtype=np.int64).reshape(4, 10)

    def search(value: int) -> np.ndarray:
        # value // 7 of the 10 true ids found, the rest misses: recall grows with value.
        found = min(10, value // 7)
        return np.where(np.arange(10) < found, truth, -1)

    needed = math.ceil(vector_index.TUNING_RECALL * 10) * 7
    assert needed <= vector_index.tune(search, truth, upper=1000) <= needed + needed // 16

    def search_small(value: int) -> np.ndarray:
        return np.where(np.arange(10) < min(10, value), truth, -1)

    assert vector_index.tune(search_small, truth, upper=1000) == 10  # small values: exact
    assert vector_index.tune(search, truth, upper=20) == 20  # capped, never beyond the index


def test_tuning_queries_are_unit_vectors_away_from_every_stored_row():
    from retrieval.store.folder import vectors as vector_index

    data, rng = clustered(2000)
    queries = vector_index.tuning_queries(data, rng, queries=50)
    assert queries.shape == (50, data.shape[1])
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1, rtol=1e-5)
    nearest = (queries @ data.T).max(axis=1)
    assert np.mean(nearest < 0.999) >= 0.9  # off the stored rows, as questions are
