"""The speed and scale benchmarks run and print every figure (timings are not asserted)."""

import json

import pytest
from click.testing import CliRunner

from retrieval.cli import main


@pytest.mark.slow
def test_bench_speed_prints_all_figures(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("embedding:\n  model: hash\n")
    result = CliRunner().invoke(main, ["--config", str(config), "bench", "speed", "--large", "2000", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    for key in (
        "encode_raw_chunks_per_s",
        "ingest_chunks_per_s",
        "ingest_overhead",
        "query_p50_ms",
        "query_p95_ms",
        "large_query_p50_ms",
        "large_query_p95_ms",
        "query_plain_p50_ms",
        "query_as_of_p50_ms",
        "query_until_filter_p50_ms",
        "as_of_vs_filter",
        "cold_ask_s",
        "import_torch_s",
        "peak_rss_mb_ask",
        "peak_rss_mb_index",
    ):
        assert isinstance(data[key], float), key
    # The figures hang together (timings themselves are printed, never asserted).
    assert data["query_p95_ms"] >= data["query_p50_ms"]
    assert data["large_query_p95_ms"] >= data["large_query_p50_ms"]
    # ingest_overhead: the bare model's time over the whole ingest's, on the same passages.
    ratio = data["ingest_chunks_per_s"] / data["encode_raw_chunks_per_s"]
    assert data["ingest_overhead"] == pytest.approx(ratio, rel=0.05, abs=0.002)
    assert data["large_index_chunks"] == 2000


def test_bench_scale_reports_recall_against_exact():
    result = CliRunner().invoke(
        main,
        ["bench", "scale", "--vectors", "5000", "--queries", "20", "--index", "flat", "--index", "ivf-flat", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {r["index"]: r for r in data["rows"]}
    assert rows["flat"]["recall@10"] == 1.0
    assert rows["ivf-flat"]["recall@10"] >= 0.9
    assert all(r["memory_mb_per_million"] > 0 for r in data["rows"])


def test_expand_vectors_grows_real_vectors_along_their_neighbours():
    import numpy as np

    from retrieval.bench.scale import clustered_vectors, expand_vectors

    base, rng = clustered_vectors(500, dim=32)
    grown = expand_vectors(base, 3000, np.random.default_rng(1))
    assert grown.shape == (3000, 32)
    np.testing.assert_array_equal(grown[:500], base)
    np.testing.assert_allclose(np.linalg.norm(grown, axis=1), 1, rtol=1e-5)
    # New rows sit near the real ones, far closer than random directions do.
    random = rng.normal(size=(200, 32)).astype(np.float32)
    random /= np.linalg.norm(random, axis=1, keepdims=True)
    assert np.median((grown[500:] @ base.T).max(axis=1)) > np.median((random @ base.T).max(axis=1)) + 0.3


def test_bench_scale_on_real_vectors_queries_with_real_questions():
    import numpy as np

    from retrieval.bench.scale import bench_scale, clustered_vectors

    passages, rng = clustered_vectors(1000, dim=32)
    questions = passages[:40] + rng.normal(scale=0.1, size=(40, 32)).astype(np.float32)
    questions /= np.linalg.norm(questions, axis=1, keepdims=True)
    result = bench_scale(4000, ["flat", "ivf-flat"], queries=30, source=passages, questions=questions)
    assert result["vectors"] == 4000
    assert "grown 4x" in result["data"]
    assert result["query_source"] == "real questions" and result["queries"] == 30
    rows = {r["index"]: r for r in result["rows"]}
    assert rows["flat"]["recall@10"] == 1.0
    assert rows["ivf-flat"]["recall@10"] >= 0.9
