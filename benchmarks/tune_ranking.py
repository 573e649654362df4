#!/usr/bin/env python
"""Tune hybrid fusion, BM25 parameters and MMR on a BEIR *train* split.

Uses the product's own index of the corpus (cached by `sourced bench beir`) and prints
one row per setting. Query embeddings are computed once. Usage:

    .venv/bin/python -m benchmarks.tune_ranking ../shared/benchmarks/scifact [--split train]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from retrieval.bench.beir import evaluate_mode, load_beir, prepare
from retrieval.bench.metrics import ndcg_at_k, recall_at_k
from retrieval.config import load_config
from retrieval.embedding import configured_embedder
from retrieval.query.ranking import FusionParams, retrieve, select
from retrieval.store.lexical import CollectionBM25
from retrieval.wiring import bench_cache as _cache_root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--split", default="train")
    args = parser.parse_args()
    config = load_config()
    embedder = configured_embedder(config.embedding)
    dataset = load_beir(args.folder, args.split)
    run = prepare(dataset, args.folder, config, embedder, _cache_root())
    qids = list(dataset.queries)
    started = time.perf_counter()
    vectors = dict(zip(qids, embedder.embed([dataset.queries[q] for q in qids], batch_size=64), strict=True))
    print(
        f"{len(qids)} {args.split} queries embedded in {time.perf_counter() - started:.0f} s; "
        f"{run.snapshot.chunk_count} passages (max_tokens={config.chunking.max_tokens})"
    )

    def show(label, row):
        print(
            f"{label:<34} nDCG@10 {row['ndcg@10']:.4f}  R@10 {row['recall@10']:.4f}  "
            f"R@100 {row['recall@100']:.4f}  MRR@10 {row['mrr@10']:.4f}",
            flush=True,
        )

    show("dense", evaluate_mode(run, "dense", FusionParams(), query_vectors=vectors))
    # BM25 parameters: rebuild the lexical index over the same passage texts.
    texts = _passage_texts(run)
    original = run.snapshot.lexical
    best_bm25 = None
    for k1, b in [(0.9, 0.4), (1.2, 0.75), (1.5, 0.75), (1.2, 0.5), (1.5, 0.9)]:
        run.snapshot._lexical = CollectionBM25.from_texts(texts, {**original.params, "k1": k1, "b": b})
        row = evaluate_mode(run, "bm25", FusionParams(), query_vectors=vectors)
        show(f"bm25 k1={k1} b={b}", row)
        if best_bm25 is None or row["ndcg@10"] > best_bm25[0]:
            best_bm25 = (row["ndcg@10"], k1, b)
    run.snapshot._lexical = original
    print(f"index built with k1={original.params['k1']} b={original.params['b']}; best here: {best_bm25}")
    for alpha in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9):
        show(
            f"hybrid convex alpha={alpha}",
            evaluate_mode(run, "hybrid", FusionParams("convex", alpha), query_vectors=vectors),
        )
    for k in (10, 30, 60, 100):
        show(f"hybrid rrf k={k}", evaluate_mode(run, "hybrid", FusionParams("rrf", rrf_k=k), query_vectors=vectors))
    # Diversity: documents ranked through the answer-time selection, with and without MMR.
    params = FusionParams.from_settings(config.search)
    for lam in (1.0, 0.9, 0.8, 0.7):
        ndcg = recall = 0.0
        for q in qids:
            cands = retrieve(run.snapshot, vectors[q], dataset.queries[q], "hybrid", 300, params)
            vecs = run.snapshot.vectors([c.row for c in cands])
            chosen = select(cands, run.doc_of_row.__getitem__, vecs, 100, 1, config.search.duplicate_threshold, lam)
            ranked = [c.doc_id for c in chosen]
            ndcg += ndcg_at_k(ranked, dataset.qrels[q], 10)
            recall += recall_at_k(ranked, dataset.qrels[q], 100)
        print(
            f"select per_document=1 mmr_lambda={lam:<4} nDCG@10 {ndcg / len(qids):.4f}  R@100 {recall / len(qids):.4f}",
            flush=True,
        )


def _passage_texts(run) -> list[str]:
    from retrieval.ingest.chunking import embed_text
    from retrieval.types import Chunk

    snap = run.snapshot
    docs = {d.id: d for d in snap.documents()}
    texts = [""] * snap.chunk_count
    for doc_id, records in snap.chunk_records().items():
        doc = docs[doc_id]
        for row, rec in records:
            chunk = Chunk(doc_id, rec.ordinal, doc.text[rec.start : rec.end], rec.start, rec.end)
            texts[row] = embed_text(doc, chunk, snap.manifest["chunking"]["embed_title"])
    return texts


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
