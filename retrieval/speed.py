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

from .config import Config, replace
from .embedding import Embedder
from .index import IndexStore
from .indexer import Indexer, _NoProgress, bundled_articles, embed_text
from .service import QueryService
from .types import Document

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


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _latency(service: QueryService, questions: Sequence[str], rounds: int) -> dict[str, float]:
    service.ask(questions[0], k=5)  # warm: model, index and caches loaded
    times = []
    for _ in range(rounds):
        for q in questions:
            started = time.perf_counter()
            service.ask(q, k=5)
            times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(_percentile(times, 0.5), 2), "p95_ms": round(_percentile(times, 0.95), 2), "n": len(times)}


def _embedded_texts(config: Config, embedder: Embedder, documents: Sequence[Document]) -> tuple[list[str], list[str]]:
    """What `sourced index` embeds: each passage (with its title) and, if on, each sentence."""
    from .chunking import chunk_document, sentence_spans

    passages, sentences = [], []
    for doc in documents:
        for chunk in chunk_document(
            doc, config.chunking.max_tokens, config.chunking.overlap_sentences, embedder.count_tokens
        ):
            passages.append(embed_text(doc, chunk, config.chunking.embed_title))
        if config.index.sentence_vectors:
            sentences += [doc.text[a:b] for a, b in sentence_spans(doc.text)]
    return passages, sentences


_RSS_ENV = "SOURCED_RSS_REPORT"


def _child_entry() -> None:
    """Entry point of measured children: run the CLI, then write this process's peak RSS.

    The kernel's rusage for a child counts the parent's memory it was forked from, so
    the child reads its own high-water mark (VmHWM, reset by exec) instead.
    """
    import atexit

    def report() -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                Path(os.environ[_RSS_ENV]).write_text(str(int(line.split()[1]) / 1024))

    atexit.register(report)
    from .cli import main

    main(args=sys.argv[1:], prog_name="sourced")


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

    from .beir import load_beir

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
        indexer = Indexer(config, IndexStore(tmp / "ingest-index"), embedder)
        read = indexer._read([folder], _NoProgress())
        passages, sentences = _embedded_texts(config, embedder, read.documents)
        started = time.perf_counter()
        embedder.embed(passages + sentences, config.embedding.batch_size)
        raw = time.perf_counter() - started
        started = time.perf_counter()
        report = Indexer(config, IndexStore(tmp / "ingest-index"), embedder).run([folder])
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
        Indexer(config, IndexStore(bundled_dir), embedder).run([bundled_articles()])
        service = QueryService(IndexStore(bundled_dir), lambda: embedder, config.search)
        lat = _latency(service, BENCH_QUESTIONS, rounds=10)
        result.update({"query_p50_ms": lat["p50_ms"], "query_p95_ms": lat["p95_ms"]})
        # -------- queries on a large index: the ingested passages' real vectors grown along
        # their neighbours (as `bench scale` does), with their texts and sentences repeated
        log(f"queries: {scale_chunks} passage index")
        big = IndexStore(tmp / "big-index")
        snap = IndexStore(tmp / "ingest-index").open()
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
                    "sentence_vectors": bool(big_sentences),
                },
                big_texts,
                big_sentences,
                np.asarray(snap.sentence_matrix())[sentence_rows] if big_sentences else None,
            )
        build = time.perf_counter() - started
        big_service = QueryService(big, lambda: embedder, config.search)
        lat = _latency(big_service, BENCH_QUESTIONS, rounds=5)
        result.update(
            {
                "large_index_chunks": scale_chunks,
                "large_index_type": big.open().manifest["index_type"],
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
        cli = [sys.executable, "-c", "from retrieval.speed import _child_entry; _child_entry()"]
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

    data = (yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) if config_path else None) or {}
    data.setdefault("embedding", {}).update({"model": config.embedding.model, "backend": config.embedding.backend})
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _tiled_records(snap, n: int):
    """Documents, chunk records and sentences repeating the small index's up to ``n`` chunk
    rows; the last item holds, per repeated sentence, its row in the small index."""
    from dataclasses import replace as dc_replace

    from .index import ChunkRecord, SentenceRecord

    docs = snap.documents()
    records = [rec for recs in snap.chunk_records().values() for _, rec in recs]
    sentences = snap.db().execute('SELECT row, doc_id, start, "end", hash FROM sentences ORDER BY row').fetchall()
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


# ---------------------------------------------------------------------------- scale


def clustered_vectors(n: int, dim: int = 384, seed: int = 0):
    """Unit vectors with the nested structure of a real corpus: topics (like beats of a
    newsroom), stories within topics, passages within stories. Neighbours are then
    mostly passages of the same story, as with real embeddings, so recall@10 means
    something (uniform random vectors have no true neighbours to find)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    topics = max(8, n // 2000)
    stories_per_topic = 20
    topic_centres = rng.normal(size=(topics, dim)).astype(np.float32)
    topic_centres /= np.linalg.norm(topic_centres, axis=1, keepdims=True)
    story_centres = np.repeat(topic_centres, stories_per_topic, axis=0) + rng.normal(
        scale=0.05, size=(topics * stories_per_topic, dim)
    ).astype(np.float32)
    story_centres /= np.linalg.norm(story_centres, axis=1, keepdims=True)
    sizes = rng.zipf(1.6, len(story_centres)).astype(np.float64)  # a few big stories, many small
    weights = sizes / sizes.sum()
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for begin in range(0, n, step):
        m = min(step, n - begin)
        labels = rng.choice(len(story_centres), size=m, p=weights)
        block = story_centres[labels] + rng.normal(scale=0.03, size=(m, dim)).astype(np.float32)
        out[begin : begin + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, rng


def expand_vectors(base: Any, n: int, rng: Any, neighbours: int = 10, spread: float = 0.6) -> Any:
    """``n`` unit vectors grown from the real vectors ``base`` (kept as the first rows).

    Each new vector lies between a real vector and one of its ``neighbours`` nearest
    real vectors, moved by ``spread`` times the difference of two more of those
    neighbours: it stays on the surface the real embeddings occupy instead of filling
    all 384 dimensions as random noise does. Checked by
    ``scripts/validate_scale_data.py``: 5,000 (and 1,000) SciFact passage vectors grown
    to 22,320 behave like the real 22,320 under IVF and HNSW (docs/scale.md).
    """
    import faiss
    import numpy as np

    m, dim = base.shape
    base = np.ascontiguousarray(base, dtype=np.float32)
    if n <= m:
        return base[:n].copy()
    k = min(neighbours, m - 1)
    exact = faiss.IndexFlatIP(dim)
    exact.add(base)
    _, near = exact.search(base, k + 1)  # column 0 is the vector itself
    out = np.empty((n, dim), dtype=np.float32)
    out[:m] = base
    step = 200_000  # bounded temporaries: a million rows at once would need ~6 GB
    for begin in range(m, n, step):
        size = min(step, n - begin)
        origin = rng.integers(0, m, size=size)
        pick = near[origin[:, None], rng.integers(1, k + 1, size=(size, 3))]
        t = rng.uniform(0, 1, size=(size, 1)).astype(np.float32)
        grown = base[origin] * (1 - t) + base[pick[:, 0]] * t + spread * (base[pick[:, 1]] - base[pick[:, 2]])
        out[begin : begin + size] = grown / np.maximum(np.linalg.norm(grown, axis=1, keepdims=True), 1e-12)
    return out


def corpus_vectors(
    folder: Path, config: Config, embedder: Embedder, cache_root: Path, progress: Any = None
) -> tuple[Any, Any]:
    """The passage vectors of a BEIR corpus (its cached benchmark index, built if missing)
    and the vectors of its real questions, every split that has them."""
    from .beir import load_beir, prepare
    from .errors import SourcedError

    dataset = load_beir(folder, "test")
    passages = prepare(dataset, folder, config, embedder, cache_root, False, progress).snapshot.embeddings()
    questions: dict[str, None] = {}
    for split in ("train", "dev", "test"):
        try:
            questions.update(dict.fromkeys(load_beir(folder, split).queries.values()))
        except SourcedError:
            continue
    return passages, embedder.embed(list(questions))


def bench_scale(
    n: int,
    kinds: Sequence[str],
    queries: int = 200,
    source: Any = None,
    questions: Any = None,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Build each index kind over ``n`` vectors and measure it against exact search.

    ``source``: real passage vectors, grown to ``n`` by :func:`expand_vectors` when
    fewer (else synthetic clustered vectors). ``questions``: real question vectors to
    query with (else stored vectors plus noise, about cosine 0.7 from one of them)."""
    import faiss
    import numpy as np

    from . import vectors as vector_index

    if source is not None:
        rng = np.random.default_rng(0)
        m = len(source)
        data = expand_vectors(source, n, rng)
        origin = f"real passage vectors ({m:,})" + (f" grown {n / m:.0f}x along their neighbours" if n > m else "")
    else:
        data, rng = clustered_vectors(n)
        origin = "synthetic clustered unit vectors"
    n, dim = data.shape
    if questions is not None and len(questions):
        q = np.ascontiguousarray(
            questions[rng.choice(len(questions), size=min(queries, len(questions)), replace=False)]
        )
        query_origin = "real questions"
    else:
        # Question-like queries: about cosine 0.7 from a stored vector.
        noise = rng.normal(scale=0.05, size=(queries, dim)).astype(np.float32)
        q = data[rng.choice(n, size=queries, replace=False)] + noise
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        query_origin = "stored vectors plus noise"
    q = q.astype(np.float32)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    exact = faiss.IndexFlatIP(dim)
    exact.add(data)
    _, truth = exact.search(q, 10)
    rows = []
    for kind in kinds:
        log(f"{kind}: building over {n} vectors")
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        built = vector_index.build(data, kind)
        vector_index.prepare_for_queries(built.index, built.params)
        memory = len(faiss.serialize_index(built.index)) / 2**20
        faiss.omp_set_num_threads(1)
        times, got = [], []
        for i in range(len(q)):
            started = time.perf_counter()
            _, ids = built.index.search(q[i : i + 1], 10)
            times.append((time.perf_counter() - started) * 1000)
            got.append(ids[0])
        recall = float(np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got, truth, strict=True)]))
        rows.append(
            {
                "index": built.kind,
                "params": built.params,
                "build_s": round(built.seconds, 2),
                "memory_mb": round(memory, 1),
                "memory_mb_per_million": round(memory * 1_000_000 / n, 1),
                "recall@10": round(recall, 4),
                "query_p50_ms": round(_percentile(times, 0.5), 3),
                "query_p95_ms": round(_percentile(times, 0.95), 3),
            }
        )
    return {
        "vectors": n,
        "dimension": dim,
        "data": origin,
        "query_source": query_origin,
        "queries": len(q),
        "threads_per_query": 1,
        "rows": rows,
        "auto_choice": vector_index.choose_kind(n),
    }


def with_backend(config: Config, backend: str | None) -> Config:
    return replace(config, embedding={"backend": backend}) if backend else config
