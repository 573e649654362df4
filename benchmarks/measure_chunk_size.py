#!/usr/bin/env python
"""Measure retrieval quality by chunk size on SciFact *train* (a subset, for time).

Each abstract (title + " " + text) is chunked with the product's chunker at each size,
every chunk embedded with the packaged all-MiniLM-L6-v2, and a document scores the max
of its chunks. Prints nDCG@10 and Recall@10 per size. Usage:

    .venv/bin/python -m benchmarks.measure_chunk_size ../shared/benchmarks/scifact [N_DISTRACTORS]
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

from retrieval.embedding import make_embedder
from retrieval.ingest.chunking import chunk_text


def main() -> None:
    root = Path(sys.argv[1])
    n_distractors = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    corpus = {}
    for line in (root / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        corpus[d["_id"]] = (d["title"] + " " + d["text"]).strip()
    queries = {}
    for line in (root / "queries-train.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        queries[d["_id"]] = d["text"]
    qrels: dict[str, set[str]] = {}
    for line in (root / "qrels-train.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        q, doc, score = line.split("\t")
        if int(score) > 0:
            qrels.setdefault(q, set()).add(doc)
    relevant = {d for docs in qrels.values() for d in docs}
    rng = random.Random(0)
    others = sorted(set(corpus) - relevant)
    doc_ids = sorted(relevant | set(rng.sample(others, min(n_distractors, len(others)))))
    qids = sorted(q for q in qrels if q in queries)
    embedder = make_embedder("all-MiniLM-L6-v2")
    qvecs = embedder.embed([queries[q] for q in qids], batch_size=64)
    print(f"{len(doc_ids)} documents, {len(qids)} train queries")
    for size in (64, 128, 200, 256, 0):
        started = time.perf_counter()
        texts, owners = [], []
        for i, doc_id in enumerate(doc_ids):
            if size == 0:  # whole document, truncated by the model at 256 tokens
                pieces = [corpus[doc_id]]
            else:
                pieces = [c.text for c in chunk_text(doc_id, corpus[doc_id], size, 1, embedder.count_tokens)]
            texts += pieces
            owners += [i] * len(pieces)
        vecs = embedder.embed(texts, batch_size=32)
        owners_arr = np.array(owners)
        scores = qvecs @ vecs.T
        ndcg = recall = 0.0
        for qi, q in enumerate(qids):
            doc_scores = np.full(len(doc_ids), -1.0, dtype=np.float32)
            np.maximum.at(doc_scores, owners_arr, scores[qi])
            top = np.argsort(-doc_scores)[:10]
            rel = qrels[q]
            dcg = sum(1 / math.log2(r + 2) for r, d in enumerate(top) if doc_ids[d] in rel)
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(rel), 10)))
            ndcg += dcg / idcg
            recall += len({doc_ids[d] for d in top} & rel) / len(rel)
        label = "whole doc" if size == 0 else f"{size} tokens"
        print(
            f"{label:>10}: chunks={len(texts):5d} nDCG@10={ndcg / len(qids):.4f} "
            f"Recall@10={recall / len(qids):.4f} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
