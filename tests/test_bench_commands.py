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
        "cold_ask_s",
        "import_torch_s",
        "peak_rss_mb_ask",
        "peak_rss_mb_index",
    ):
        assert isinstance(data[key], float) and data[key] > 0, key
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
