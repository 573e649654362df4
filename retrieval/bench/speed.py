"""`sourced bench speed` and `sourced bench scale`: figures measured side by side in one run.

Every figure comes with the baseline it is compared to, measured in the same run on the
same machine: ingest against the bare model encoding the same passages, a cold
`sourced ask` against a bare `import torch`, approximate indexes against exact search.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from retrieval.bench.scale import expand_vectors
from retrieval.bench.timing import RSS_ENV as _RSS_ENV
from retrieval.bench.timing import percentile
from retrieval.config import Config, replace
from retrieval.embedding import Embedder
from retrieval.ingest.chunking import embed_text
from retrieval.ingest.indexer import Indexer
from retrieval.ingest.progress import NoProgress
from retrieval.paths import bundled_articles
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from retrieval.types import Document

BENCH_QUESTIONS = (
    "who urged Amazon to stop selling Rekognition?",
    "How inaccurate was the Metropolitan Police's facial recognition?",
    "What did the Association for Computing Machinery say about facial recognition?",
    "Which city moved to ban facial recognition?",
    "Why did the IRS drop its facial recognition system?",
    "What did Microsoft president Brad Smith say about regulating facial recognition?",
    "Which lawmakers warned federal agencies about Clearview AI?",
    "How long will Amazon stop police from using its facial recognition?",
    "what is a good banana bread recipe?",
    "Do vitamin D supplements reduce fractures?",
)


def _latency(service: QueryService, questions: Sequence[str], rounds: int, **ask: Any) -> dict[str, float]:
    """Warm latency of ``service.ask(q, k=5, **ask)`` over ``questions``, ``rounds`` times."""
    service.ask(questions[0], k=5, **ask)  # warm: model, index and caches loaded
    times = []
    for _ in range(rounds):
        for q in questions:
            started = time.perf_counter()
            service.ask(q, k=5, **ask)
            times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(percentile(times, 0.5), 2), "p95_ms": round(percentile(times, 0.95), 2), "n": len(times)}


def _dated_latency(service: QueryService, questions: Sequence[str], rounds: int) -> dict[str, float]:
    """The as-of path beside the plain one and a plain date filter, in the same run, rounds
    interleaved so a busy machine weighs on all three alike: issue 26 asks that answering
    as of a day cost no more than a filter."""
    from datetime import UTC, datetime

    from retrieval.query.ranking import Filters

    day = datetime(2021, 6, 1, tzinfo=UTC)
    plain, dated, filtered = [], [], []
    for _ in range(rounds):
        plain.append(_latency(service, questions, 1)["p50_ms"])
        dated.append(_latency(service, questions, 1, as_of=day, filters=Filters(until=day))["p50_ms"])
        filtered.append(_latency(service, questions, 1, filters=Filters(until=day))["p50_ms"])
    p50 = {name: percentile(values, 0.5) for name, values in (("plain", plain), ("as_of", dated), ("filter", filtered))}
    return {
        "query_plain_p50_ms": round(p50["plain"], 2),
        "query_as_of_p50_ms": round(p50["as_of"], 2),
        "query_until_filter_p50_ms": round(p50["filter"], 2),
        "as_of_vs_filter": round(p50["as_of"] / p50["filter"], 3) if p50["filter"] else 0.0,
    }


def _embedded_texts(config: Config, embedder: Embedder, documents: Sequence[Document]) -> tuple[list[str], list[str]]:
    """What `sourced index` embeds: each passage (with its title) and, if on, each sentence."""
    from retrieval.ingest.chunking import chunk_document, sentence_spans

    passages, sentences = [], []
    for doc in documents:
        for chunk in chunk_document(
            doc, config.chunking.max_tokens, config.chunking.overlap_sentences, embedder.count_tokens
        ):
            passages.append(embed_text(doc, chunk, config.chunking.embed_title))
        if config.index.sentence_vectors:
            sentences += [doc.text[a:b] for a, b in sentence_spans(doc.text)]
    return passages, sentences


def _run_child(args: Sequence[str], env: dict[str, str], rss_file: Path | None = None) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of a child process."""
    if rss_file is not None:
        env = {**env, _RSS_ENV: str(rss_file)}
    started = time.perf_counter()
    proc = subprocess.run(list(args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - started
    rss = float(rss_file.read_text()) if rss_file is not None and rss_file.exists() else 0.0
    return elapsed, rss, proc.returncode


def _median_child(
    args: Sequence[str], env: dict[str, str], runs: int = 3, rss_file: Path | None = None
) -> tuple[float, float]:
    results = [_run_child(args, env, rss_file) for _ in range(runs)]
    if any(code != 0 for _, _, code in results):
        raise RuntimeError(f"{' '.join(args)} failed")
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def bench_speed(
    config: Config,
    embedder_factory: Callable[[], Embedder],
    corpus: Path | None,
    max_docs: int,
    config_path: Path | None,
    scale_chunks: int = 100_000,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    import numpy as np

    from retrieval.bench.beir import load_beir

    result: dict[str, Any] = {"backend": config.embedding.backend, "model": config.embedding.model}
    embedder = embedder_factory()
    embedder.embed(["warm up the model"])  # load it outside every timed section
    with tempfile.TemporaryDirectory(prefix="sourced-speed-") as tmp_name:
        tmp = Path(tmp_name)
        # -------- ingest: a larger collection, raw model vs the whole `sourced index`
        if corpus is not None:
            dataset = load_beir(corpus, "test")
            docs = dataset.documents()[:max_docs]
            folder = tmp / "corpus"
            folder.mkdir()
            with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
                for d in docs:
                    f.write(json.dumps({"title": d.title, "text": d.text[len(d.title) :].strip()}) + "\n")
            collection_name = f"{dataset.name} ({len(docs)} documents)"
        else:
            folder = bundled_articles()
            collection_name = "bundled articles"
        log(f"ingest: {collection_name}")
        indexer = Indexer(config, FolderStore(tmp / "ingest-index"), embedder)
        read = indexer.read([folder], NoProgress())
        passages, sentences = _embedded_texts(config, embedder, read.documents)
        started = time.perf_counter()
        embedder.embed(passages + sentences, config.embedding.batch_size)
        raw = time.perf_counter() - started
        started = time.perf_counter()
        report = Indexer(config, FolderStore(tmp / "ingest-index"), embedder).run([folder])
        ingest = time.perf_counter() - started
        result.update(
            {
                "ingest_collection": collection_name,
                "ingest_chunks": report.chunks,
                "ingest_sentences": len(sentences),
                # Raw: the bare model on exactly what the index embeds (passages + sentences),
                # counted in passages per second so the two rates compare directly.
                "encode_raw_chunks_per_s": round(len(passages) / raw, 1),
                "ingest_chunks_per_s": round(report.chunks / ingest, 1),
                "ingest_overhead": round(raw / ingest, 3),
            }
        )
        # -------- queries on the bundled collection, warm
        log("queries: bundled collection")
        bundled_dir = tmp / "bundled-index"
        Indexer(config, FolderStore(bundled_dir), embedder).run([bundled_articles()])
        service = QueryService(FolderStore(bundled_dir), lambda: embedder, config.search)
        lat = _latency(service, BENCH_QUESTIONS, rounds=10)
        result.update({"query_p50_ms": lat["p50_ms"], "query_p95_ms": lat["p95_ms"]})
        result.update(_dated_latency(service, BENCH_QUESTIONS, rounds=5))
        # -------- queries on a large index: the ingested passages' real vectors grown along
        # their neighbours (as `bench scale` does), with their texts and sentences repeated
        log(f"queries: {scale_chunks} passage index")
        big = FolderStore(tmp / "big-index")
        snap = FolderStore(tmp / "ingest-index").open()
        grown = expand_vectors(np.asarray(snap.embeddings()), scale_chunks, np.random.default_rng(0))
        big_docs, big_chunks, big_texts, big_sentences, sentence_rows = _tiled_records(snap, scale_chunks)
        started = time.perf_counter()
        with big.writer_lock():
            big.write(
                big_docs,
                big_chunks,
                grown,
                {
                    "model_id": embedder.model_id,
                    "dimension": embedder.dimension,
                    "chunking": indexer.chunk_settings(),
                    "index_kind": config.index.kind,
                    # The BM25 settings of the index it grows (k1, b, accents folded), so the
                    # large index tokenises as a real one written today does.
                    "lexical": snap.manifest.get("lexical"),
                    "sentence_vectors": bool(big_sentences),
                },
                big_texts,
                big_sentences,
                snap.sentence_vectors(sentence_rows) if big_sentences else None,
            )
        build = time.perf_counter() - started
        big_service = QueryService(big, lambda: embedder, config.search)
        lat = _latency(big_service, BENCH_QUESTIONS, rounds=5)
        result.update(
            {
                "large_index_chunks": scale_chunks,
                "large_index_type": big.open().segments[0].info["index_type"],
                "large_index_build_s": round(build, 1),
                "large_query_p50_ms": lat["p50_ms"],
                "large_query_p95_ms": lat["p95_ms"],
            }
        )
        # -------- cold CLI processes, with the bare `import torch` beside them
        log("cold processes")
        env = {
            **os.environ,
            "SOURCED_INDEX_DIR": str(bundled_dir),
            "SOURCED_CONFIG": str(_child_config(tmp, config, config_path)),
        }
        cli = [sys.executable, "-m", "retrieval.bench.child"]
        torch_s, _ = _median_child([sys.executable, "-c", "import torch"], env)
        ask_s, ask_rss = _median_child([*cli, "ask", BENCH_QUESTIONS[0]], env, rss_file=tmp / "rss-ask.txt")
        _, index_rss = _median_child(
            [*cli, "index", "--rebuild", "--index-dir", str(tmp / "rss-index"), str(bundled_articles())],
            env,
            runs=1,
            rss_file=tmp / "rss-index.txt",
        )
        result.update(
            {
                "cold_ask_s": round(ask_s, 3),
                "import_torch_s": round(torch_s, 3),
                "cold_ask_vs_import_torch": round(ask_s / torch_s, 3),
                "peak_rss_mb_ask": round(ask_rss, 1),
                "peak_rss_mb_index": round(index_rss, 1),
            }
        )
    return result


def _child_config(tmp: Path, config: Config, config_path: Path | None) -> Path:
    """The user's config file with this run's embedding settings, for child processes."""
    import yaml

    from retrieval import yamlio

    data = (yamlio.load(Path(config_path).read_text(encoding="utf-8")) if config_path else None) or {}
    data.setdefault("embedding", {}).update({"model": config.embedding.model, "backend": config.embedding.backend})
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _tiled_records(snap, n: int):
    """Documents, chunk records and sentences repeating the small index's up to ``n`` chunk
    rows; the last item holds, per repeated sentence, its row in the small index."""
    from dataclasses import replace as dc_replace

    from retrieval.store import ChunkRecord, SentenceRecord

    docs = snap.documents()
    records = [rec for recs in snap.chunk_records().values() for _, rec in recs]
    sentences = [(row, s.doc_id, s.start, s.end, s.hash) for row, s in snap.sentence_records()]
    by_id = {d.id: d for d in docs}
    out_docs: list[Document] = []
    out_chunks: list[ChunkRecord] = []
    out_sentences: list[SentenceRecord] = []
    sentence_rows: list[int] = []
    texts: list[str] = []
    copy = 0
    while len(out_chunks) < n:
        used = set()
        for rec in records:
            if len(out_chunks) >= n:
                break
            doc = by_id[rec.doc_id]
            used.add(rec.doc_id)
            out_chunks.append(ChunkRecord(f"{rec.doc_id}-{copy}", rec.ordinal, rec.start, rec.end, rec.embed_hash))
            texts.append(doc.text[rec.start : rec.end])
        for d in docs:
            if d.id in used:
                out_docs.append(dc_replace(d, id=f"{d.id}-{copy}", url=f"{d.url}#copy{copy}" if d.url else None))
        for row, doc_id, start, end, digest in sentences:
            if doc_id in used:
                out_sentences.append(SentenceRecord(f"{doc_id}-{copy}", start, end, digest))
                sentence_rows.append(row)
        copy += 1
    return out_docs, out_chunks, texts, out_sentences, sentence_rows


def with_backend(config: Config, backend: str | None) -> Config:
    return replace(config, embedding={"backend": backend}) if backend else config
