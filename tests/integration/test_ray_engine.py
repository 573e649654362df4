"""`sourced index --engine ray`: Ray Data feeds actor pools that chunk and embed; the index must
be the one a local run writes. Contract: the same documents, chunks, ids and vectors, on
the bundled articles and on 300 SciFact abstracts (when the shared benchmarks are there),
with the default model; then once more on a 3-node `ray.cluster_utils.Cluster`."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from retrieval.cli import main
from retrieval.config import build_config
from retrieval.embedding import configured_embedder
from retrieval.embedding.distributed import RayEmbedder
from retrieval.ingest.indexer import Indexer
from retrieval.store import FolderStore
from tests.helpers import BUNDLED, ROOT

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
SCIFACT = ROOT.parent / "shared" / "benchmarks" / "scifact"


@pytest.fixture(scope="module")
def config():
    return build_config({})  # the default model: onnx-int8, whose vectors depend on the batch


@pytest.fixture(scope="module")
def local_ray():
    # address="local": a cluster of the test's own, even when another one on this machine
    # (a run killed before it could stop its own) has left its address behind.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def snapshot_contents(store: FolderStore):
    snap = store.open()
    documents = sorted((d.id, d.title, d.text, d.url) for d in snap.documents())
    chunks = sorted((row, rec) for recs in snap.chunk_records().values() for row, rec in recs)
    rows = [row for row, _ in chunks]
    sentences = np.concatenate([s.sentence_vectors for s in snap.segments])
    return documents, [rec for _, rec in chunks], snap.vectors(rows), sentences


def build_both(config, tmp_path, index, address=None):
    """(local contents, ray contents) after ``index(indexer)`` with each engine."""
    local = configured_embedder(config.embedding)
    remote = RayEmbedder(local, config.embedding.model, config.embedding.backend, address, workers=2)
    out = []
    for name, embedder in (("local", local), ("ray", remote)):
        store = FolderStore(tmp_path / name)
        index(Indexer(config, store, embedder))
        out.append(snapshot_contents(store))
    return out


def assert_same(local, remote):
    (docs_a, chunks_a, vec_a, sent_a), (docs_b, chunks_b, vec_b, sent_b) = local, remote
    assert docs_a == docs_b and len(docs_a) > 0
    assert chunks_a == chunks_b  # ids, ordinals, offsets and text hashes
    np.testing.assert_allclose(vec_a, vec_b, atol=1e-6)
    np.testing.assert_array_equal(sent_a, sent_b)


def test_the_ray_engine_writes_the_local_index_for_the_bundled_articles(config, local_ray, tmp_path):
    local, remote = build_both(config, tmp_path, lambda indexer: indexer.run([BUNDLED]))
    assert len(local[0]) == 15
    assert_same(local, remote)


def test_reading_and_chunking_run_on_the_cluster_not_in_this_process(config, local_ray, tmp_path, monkeypatch):
    import retrieval.ingest.readers.reader as reader_module

    local = configured_embedder(config.embedding)
    counted: list[int] = []
    original = local.count_tokens
    local.count_tokens = lambda texts: counted.append(len(texts)) or original(texts)
    read_here: list[str] = []
    read_bytes = reader_module.read_bytes
    monkeypatch.setattr(reader_module, "read_bytes", lambda file: read_here.append(str(file)) or read_bytes(file))
    remote = RayEmbedder(local, config.embedding.model, config.embedding.backend, None, workers=2)
    report = Indexer(config, FolderStore(tmp_path / "ray"), remote).run([BUNDLED])
    assert (report.documents, report.chunks, report.files_read) == (15, 29, 5)
    assert read_here == []  # every file was read, parsed and cleaned by the cluster's actors
    assert counted == []  # every passage boundary was decided there too


def test_the_ray_engine_writes_straight_into_postgresql(config, local_ray, tmp_path, postgres):
    """Ray embeds, the PostgreSQL store keeps: the same index as the local engine's folder."""
    from retrieval.store.postgres.store import PgStore

    _, url = postgres
    local = configured_embedder(config.embedding)
    folder = FolderStore(tmp_path / "local")
    Indexer(config, folder, local).run([BUNDLED])
    database = PgStore(url, tmp_path / "state", schema="ray_contract")
    remote = RayEmbedder(local, config.embedding.model, config.embedding.backend, None, workers=2)
    Indexer(config, database, remote).run([BUNDLED])
    (docs_a, chunks_a, vec_a, sent_a), (docs_b, chunks_b, vec_b, sent_b) = (
        _contents(folder.open()),
        _contents(database.open()),
    )
    assert docs_a == docs_b and len(docs_a) == 15
    assert chunks_a == chunks_b
    np.testing.assert_allclose(vec_a, vec_b, atol=1e-6)  # both keep float16
    np.testing.assert_allclose(sent_a, sent_b, atol=1e-6)  # both keep int8
    database.close()


def _contents(snap):
    """Documents, chunk records, passage and sentence vectors, in text order (store-neutral)."""
    documents = sorted((d.id, d.title, d.text, d.url) for d in snap.documents())
    chunks = sorted((rec.doc_id, rec.ordinal, row, rec) for recs in snap.chunk_records().values() for row, rec in recs)
    sentences = sorted((rec.doc_id, rec.start, row) for row, rec in snap.sentence_records())
    return (
        documents,
        [c[3] for c in chunks],
        snap.vectors([c[2] for c in chunks]),
        snap.sentence_vectors([s[2] for s in sentences]),
    )


@pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").is_file(), reason="the shared SciFact copy is not here")
def test_the_ray_engine_writes_the_local_index_for_300_scifact_abstracts(config, local_ray, tmp_path):
    from retrieval.bench.beir import load_beir

    documents = load_beir(SCIFACT).documents()[:300]
    local, remote = build_both(config, tmp_path, lambda indexer: indexer.index_documents(documents, label="scifact"))
    assert len(local[0]) == 300
    assert_same(local, remote)


def test_the_cli_engine_option_and_an_address_that_does_not_answer(cli_env, local_ray):
    indexed = CliRunner().invoke(main, ["index", "--engine", "ray", str(BUNDLED / "004_a582f3a2c9e06838.txt")])
    assert indexed.exit_code == 0, indexed.output
    nobody = CliRunner().invoke(main, ["index", "--engine", "ray", "--ray-address", "127.0.0.1:1"])
    assert nobody.exit_code == 1 and "Traceback" not in nobody.output
    assert nobody.stderr.strip() == "error: Cannot reach Ray at 127.0.0.1:1: Connection refused."


def test_the_ray_engine_on_a_three_node_cluster(config, tmp_path):
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        local, remote = build_both(config, tmp_path, lambda i: i.run([BUNDLED]), address=cluster.address)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 3
        assert_same(local, remote)
    finally:
        ray.shutdown()
        cluster.shutdown()
