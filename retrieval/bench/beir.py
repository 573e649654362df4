"""`sourced bench beir`: run a BEIR-format dataset through every retrieval mode.

The corpus goes through the product's own pipeline (chunker, embedder, FAISS + BM25
index, ranking); a document's rank is that of its best passage. The index is kept in
the user cache folder, so a second run re-embeds nothing and takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.bench.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from retrieval.config import Config, replace
from retrieval.embedding import Embedder
from retrieval.errors import SourcedError
from retrieval.ingest.indexer import Indexer
from retrieval.ingest.progress import IndexProgress
from retrieval.query.ranking import MODES, FusionParams, retrieve
from retrieval.store import Snapshot
from retrieval.store.lexical import FOLD
from retrieval.types import Document
from retrieval.wiring import open_store

# Published rows for BEIR SciFact, test split (see the dataset README for sources).
SCIFACT_REFERENCES = [
    {"system": "published: BM25 (Anserini flat)", "ndcg@10": 0.6789, "recall@100": 0.9253},
    {"system": "published: BM25 (BEIR paper)", "ndcg@10": 0.665},
    {
        "system": "published: BM25 (MTEB bm25s)",
        "ndcg@10": 0.68736,
        "recall@10": 0.81867,
        "recall@100": 0.91267,
        "mrr@10": 0.65034,
    },
    {
        "system": "published: all-MiniLM-L6-v2 (MTEB)",
        "ndcg@10": 0.64508,
        "recall@10": 0.78333,
        "recall@100": 0.925,
        "mrr@10": 0.60472,
    },
]
# A whole document as one passage (the model reads its first 256 tokens): the setup the
# published dense and BM25 numbers use, run to check the pipeline against them.
WHOLE_DOCUMENT_TOKENS = 1_000_000


@dataclass
class BeirDataset:
    name: str
    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, set[str]]

    def documents(self) -> list[Document]:
        return [
            Document(id=doc_id, title=title, text=f"{title} {text}".strip(), source=f"{self.name}:{doc_id}")
            for doc_id, (title, text) in self.corpus.items()
        ]


def _first_existing(folder: Path, names: Sequence[str]) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise SourcedError(f"{folder} has none of {', '.join(names)}; is it a BEIR dataset folder?")


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """Read corpus.jsonl, the split's queries and its qrels (BEIR or flat layout)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourcedError(f"No dataset folder at {folder}.")
    corpus_file = _first_existing(folder, ["corpus.jsonl"])
    qrels_file = _first_existing(
        folder, [f"qrels/{split}.tsv", f"qrels-{split}.tsv"] + (["qrels.tsv"] if split == "test" else [])
    )
    queries_file = _first_existing(folder, [f"queries-{split}.jsonl", "queries.jsonl"])
    corpus = {}
    with corpus_file.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                corpus[str(d["_id"])] = (d.get("title") or "", d.get("text") or "")
    qrels: dict[str, set[str]] = {}
    with qrels_file.open(encoding="utf-8") as f:
        for n, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if n == 0 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) >= 3 and int(parts[-1]) > 0:
                qrels.setdefault(parts[0], set()).add(parts[-2])
    queries = {}
    with queries_file.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                if str(d["_id"]) in qrels:
                    queries[str(d["_id"])] = d["text"]
    qrels = {q: docs for q, docs in qrels.items() if q in queries}
    if not queries:
        raise SourcedError(f"No {split} queries with relevance judgements found in {folder}.")
    return BeirDataset(folder.name, corpus, queries, qrels)


@dataclass
class BeirRun:
    """An indexed dataset, ready to be searched in any mode."""

    dataset: BeirDataset
    snapshot: Snapshot
    embedder: Embedder
    doc_of_row: list[str] = field(default_factory=list)

    def rank_documents(self, ranked_rows: Sequence[int], n: int = 100) -> list[str]:
        seen: dict[str, None] = {}
        for row in ranked_rows:
            seen.setdefault(self.doc_of_row[row], None)
            if len(seen) >= n:
                break
        return list(seen)


def corpus_cache_dir(
    cache_root: Path, folder: Path, config: Config, embedder: Embedder, whole: bool, sentences: bool = False
) -> Path:
    stat = (Path(folder) / "corpus.jsonl").stat()
    key = hashlib.sha1(f"{Path(folder).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    setup = ("whole" if whole else f"chunks{config.chunking.max_tokens}") + ("-sentences" if sentences else "")
    setup += f"-fold-{FOLD}"  # an index keeps its tokens: a cache from before folding is not reused
    # The backend is part of the key: vectors of int8 and fp32 runs must never mix.
    model = f"{embedder.model_id}-{config.embedding.backend}".replace("/", "_").replace(":", "_")
    return cache_root / f"{Path(folder).name}-{key}" / f"{setup}-{model}"


def prepare(
    dataset: BeirDataset,
    folder: Path,
    config: Config,
    embedder: Embedder,
    cache_root: Path,
    whole_documents: bool = False,
    progress: IndexProgress | None = None,
    sentences: bool = False,
) -> BeirRun:
    """Index the corpus (or reuse the cached index) and return a searchable run.

    Benchmarks rank documents by passages, and sentence vectors only pick what is
    displayed, so they are left out unless ``sentences`` (to calibrate what is shown).
    """
    config = replace(config, index={"sentence_vectors": sentences})
    if whole_documents:
        config = replace(config, chunking={"max_tokens": WHOLE_DOCUMENT_TOKENS, "overlap_sentences": 0})
    cache = corpus_cache_dir(cache_root, folder, config, embedder, whole_documents, sentences)
    if config.index.store:
        # `sourced --store URL bench beir`: the same run on the PostgreSQL store, in a schema
        # of its own per corpus and setup (the folder keeps only the sync state).
        schema = "sourced_bench_" + hashlib.sha1(str(cache).encode()).hexdigest()[:12]
        store = open_store(config, cache, namespace=schema)
    else:
        store = open_store(config, cache)
    Indexer(config, store, embedder).index_documents(dataset.documents(), progress, label=str(folder))
    snap = store.open()
    by_document = snap.chunk_records()
    doc_of_row = [""] * (max((row for rows in by_document.values() for row, _ in rows), default=-1) + 1)
    for doc_id, records in by_document.items():
        for row, _ in records:
            doc_of_row[row] = doc_id
    return BeirRun(dataset, snap, embedder, doc_of_row)


def evaluate_mode(
    run: BeirRun,
    mode: str,
    params: FusionParams,
    pool: int = 300,
    query_vectors: dict[str, object] | None = None,
    reranker=None,
    rerank_depth: int = 0,
) -> dict[str, float]:
    """Metrics of one mode over every query; embeds each query unless vectors are given.
    With ``reranker``, its order of the best ``rerank_depth`` passages comes first, as
    ``QueryService`` shows them with ``search.rerank`` on."""
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    started = time.perf_counter()
    for qid, text in run.dataset.queries.items():
        vector = query_vectors[qid] if query_vectors is not None else run.embedder.embed_query(text)
        candidates = retrieve(run.snapshot, vector, text, mode, pool, params)
        rows = [c.row for c in candidates]
        if reranker is not None and rows:
            top = rows[:rerank_depth]
            found = run.snapshot.chunks(top)
            scores = reranker.score(text, [found[r][0].text for r in top])
            rows = [top[i] for i in sorted(range(len(top)), key=lambda i: -scores[i])] + rows[len(top) :]
        ranked = run.rank_documents(rows)
        relevant = run.dataset.qrels[qid]
        totals["ndcg@10"] += ndcg_at_k(ranked, relevant, 10)
        totals["recall@10"] += recall_at_k(ranked, relevant, 10)
        totals["recall@100"] += recall_at_k(ranked, relevant, 100)
        totals["mrr@10"] += mrr_at_k(ranked, relevant, 10)
    elapsed = time.perf_counter() - started
    n = len(run.dataset.queries)
    row = {k: round(v / n, 5) for k, v in totals.items()}
    row["queries_per_s"] = round(n / elapsed, 1) if elapsed > 0 else 0.0
    return row


def run_benchmark(
    folder: Path,
    split: str,
    config: Config,
    embedder_factory: Callable[[], Embedder],
    cache_root: Path,
    modes: Sequence[str] = MODES,
    reference_setup: bool = True,
    progress_factory: Callable[[], IndexProgress] | None = None,
    reference_embedder_factory: Callable[[], Embedder] | None = None,
) -> dict[str, object]:
    """Every mode on the product's chunking, plus whole-document rows to compare with
    the published numbers (embedded by ``reference_embedder_factory``, default the same
    embedder: for a tuned model, the model the published rows measured). Returns the
    JSON-ready result."""
    dataset = load_beir(folder, split)
    embedder = embedder_factory()
    params = FusionParams.from_settings(config.search)
    rows = []
    run = prepare(
        dataset, folder, config, embedder, cache_root, False, progress_factory() if progress_factory else None
    )
    for mode in modes:
        rows.append({"system": mode, **evaluate_mode(run, mode, params)})
    if config.search.rerank and "hybrid" in modes and not embedder.model_id.startswith("hash"):
        # Hybrid, then the best rerank_depth passages in the re-ranker's order (what the stage
        # does with rerank_weight large; at 0 it keeps the article order, so nothing to measure).
        from retrieval.query.rerank import CrossEncoder

        scorer = CrossEncoder(max_tokens=config.search.rerank_tokens)
        row = evaluate_mode(run, "hybrid", params, reranker=scorer, rerank_depth=config.search.rerank_depth)
        rows.append({"system": "hybrid + re-ranker's order", **row})
    if reference_setup:
        reference = reference_embedder_factory() if reference_embedder_factory else embedder
        whole = prepare(
            dataset, folder, config, reference, cache_root, True, progress_factory() if progress_factory else None
        )
        for mode in ("bm25", "dense"):
            rows.append({"system": f"{mode} (whole documents)", **evaluate_mode(whole, mode, params)})
    return {
        "dataset": dataset.name,
        "split": split,
        "rows": rows,
        "default": config.search.mode,
        "references": SCIFACT_REFERENCES if dataset.name.lower().startswith("scifact") and split == "test" else [],
    }
