"""`sourced bench beir` on a tiny BEIR-format dataset with the hash embedder."""

import json

from click.testing import CliRunner

from retrieval.bench.beir import load_beir
from retrieval.cli import main

DOCS = {
    "d1": ("Zebra stripes", "Zebras have black and white stripes that confuse flies."),
    "d2": ("Penguin flight", "Penguins cannot fly but they swim very well."),
    "d3": ("Volcano ash", "Ash clouds from volcanoes ground aircraft for days."),
    "d4": ("Coffee sleep", "Caffeine late in the day delays sleep onset."),
}
QUERIES = {"q1": "why do zebras have stripes", "q2": "can penguins fly", "q3": "does caffeine affect sleep"}
QRELS = {"q1": "d1", "q2": "d2", "q3": "d4"}


def make_dataset(folder, flat=True):
    folder.mkdir()
    with open(folder / "corpus.jsonl", "w") as f:
        for doc_id, (title, text) in DOCS.items():
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as f:
        for qid, text in QUERIES.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    qrels = "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in QRELS.items())
    if flat:
        (folder / "qrels.tsv").write_text(qrels)
    else:
        (folder / "qrels").mkdir()
        (folder / "qrels" / "test.tsv").write_text(qrels)
    return folder


def test_loads_both_layouts(tmp_path):
    for flat in (True, False):
        ds = load_beir(make_dataset(tmp_path / f"ds{flat}", flat), "test")
        assert len(ds.corpus) == 4 and ds.qrels["q1"] == {"d1"} and ds.queries["q2"] == "can penguins fly"
        assert ds.documents()[0].text == "Zebra stripes Zebras have black and white stripes that confuse flies."


def test_bench_json_rows(tmp_path, monkeypatch):
    folder = make_dataset(tmp_path / "tiny")
    config = tmp_path / "c.yaml"
    config.write_text("embedding:\n  model: hash\n")
    monkeypatch.setenv("SOURCED_CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(main, ["--config", str(config), "bench", "beir", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dataset"] == "tiny" and data["split"] == "test" and data["default"] == "hybrid"
    systems = [r["system"] for r in data["rows"]]
    assert systems == ["bm25", "dense", "hybrid", "bm25 (whole documents)", "dense (whole documents)"]
    for row in data["rows"]:
        assert set(row) == {"system", "ndcg@10", "recall@10", "recall@100", "mrr@10", "queries_per_s"}
        assert row["recall@100"] == 1.0  # four documents: every one is in the top 100
    bm25 = data["rows"][0]
    assert bm25["ndcg@10"] == 1.0 and bm25["mrr@10"] == 1.0  # each query names its document's words
    # Second run: the cached indexes are reused, nothing is embedded or written again.
    cache = tmp_path / "cache"

    def written():  # every file but the writer lock's, which each run takes
        return {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file() and not p.name.startswith(".lock")}

    before = written()
    assert any(p.name == "CURRENT" for p in before)  # the first run did build and keep them
    again = CliRunner().invoke(main, ["--config", str(config), "bench", "beir", str(folder)])
    assert again.exit_code == 0 and "published" not in again.stdout and "hybrid" in again.stdout
    assert written() == before
    # A changed corpus is a cache miss: indexed anew, beside the old one.
    (folder / "corpus.jsonl").write_text((folder / "corpus.jsonl").read_text().replace("Zebra", "Okapi"))
    third = CliRunner().invoke(main, ["--config", str(config), "bench", "beir", str(folder)])
    assert third.exit_code == 0
    assert len([p for p in cache.rglob("CURRENT")]) > len([p for p in before if p.name == "CURRENT"])


def test_whole_document_rows_are_embedded_by_the_reference_model(tmp_path):
    # With a tuned default model, the rows checked against the published untuned model's
    # figures must come from that untuned model; the passage rows from the configured one.
    from retrieval.bench.beir import run_benchmark
    from retrieval.config import build_config
    from retrieval.embedding import HashEmbedder

    class Reference(HashEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.model_id = "reference-model"

    folder = make_dataset(tmp_path / "tiny")
    config = build_config({"embedding": {"model": "hash"}})
    result = run_benchmark(
        folder, "test", config, HashEmbedder, tmp_path / "cache", reference_embedder_factory=Reference
    )
    assert [r["system"] for r in result["rows"]][-1] == "dense (whole documents)"
    built = sorted(p.name for p in (tmp_path / "cache").glob("*/*"))
    assert any(n.startswith("chunks") and "hash-v1-256" in n for n in built), built
    assert any(n.startswith("whole") and "reference-model" in n for n in built), built
    assert not any(n.startswith("whole") and "hash-v1-256" in n for n in built), built
