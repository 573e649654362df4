#!/usr/bin/env python
"""Train a query adapter (retrieval/embedding/adapter.py) on a BEIR folder's *train* split.

Each train question is paired with the best passage of its relevant document; the
passages of all train questions' documents are the candidates. The matrix A is fitted
by full-batch Adam on the softmax loss of q' = normalise(q + qA) against those passages
(temperature 0.05) with an L2 pull toward A = 0, so an untrained direction stays as the
model had it. Prints a 5-fold cross-validated hybrid MRR@10 on the train split beside
the figure without an adapter, so the settings are chosen without the test split.
Runs in about a minute on 2 cores once the corpus is embedded (cached by bench beir).

    .venv/bin/python -m benchmarks.train_query_adapter ../shared/benchmarks/realtimeqa-dev \\
        [--out retrieval/embedding/adapters/news-minilm.npz] [--reg 0.01] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from retrieval.bench.beir import evaluate_mode, load_beir, prepare
from retrieval.config import load_config, replace
from retrieval.embedding import make_embedder
from retrieval.embedding.adapter import AdaptedEmbedder, QueryAdapter
from retrieval.query.ranking import FusionParams
from retrieval.wiring import bench_cache

ROOT = Path(__file__).resolve().parent.parent
TEMPERATURE = 0.05
LEARNING_RATE = 1e-3


def fit(queries: np.ndarray, passages: np.ndarray, targets: np.ndarray, reg: float, epochs: int) -> np.ndarray:
    import torch

    torch.manual_seed(0)
    dim = queries.shape[1]
    matrix = torch.zeros(dim, dim, requires_grad=True)
    optimiser = torch.optim.Adam([matrix], lr=LEARNING_RATE)
    q, p, t = torch.tensor(queries), torch.tensor(passages), torch.tensor(targets)
    for _ in range(epochs):
        adapted = torch.nn.functional.normalize(q + q @ matrix, dim=1)
        loss = torch.nn.functional.cross_entropy(adapted @ p.T / TEMPERATURE, t) + reg * (matrix**2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return matrix.detach().numpy().astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "retrieval/embedding/adapters/news-minilm.npz")
    parser.add_argument("--reg", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()

    config = replace(load_config(), embedding={"query_adapter": "none"})
    embedder = make_embedder(config.embedding.model, config.embedding.backend)
    dataset = load_beir(args.folder, "train")
    run = prepare(dataset, args.folder, config, embedder, bench_cache())
    vectors = run.snapshot.embeddings()
    rows_of: dict[str, list[int]] = {}
    for row, doc_id in enumerate(run.doc_of_row):
        rows_of.setdefault(doc_id, []).append(row)
    qids = [q for q in dataset.queries if dataset.qrels.get(q)]
    queries = np.stack([embedder.embed_query(dataset.queries[q]) for q in qids])
    # The positive: the relevant document's passage closest to the question.
    positives = []
    for i, qid in enumerate(qids):
        rows = [r for doc in dataset.qrels[qid] for r in rows_of.get(doc, [])]
        positives.append(rows[int(np.argmax(vectors[rows] @ queries[i]))])
    positives = np.array(positives)

    def train(mask: np.ndarray) -> np.ndarray:
        rows = np.unique(positives[mask])
        return fit(queries[mask], vectors[rows], np.searchsorted(rows, positives[mask]), args.reg, args.epochs)

    params = FusionParams.from_settings(config.search)
    folds = np.arange(len(qids)) % 5
    np.random.default_rng(0).shuffle(folds)
    scores = {"without": 0.0, "with": 0.0}
    for fold in range(5):
        held = folds == fold
        matrix = train(~held)
        held_ids = {qids[i] for i in np.flatnonzero(held)}
        sub = type(run)(
            type(dataset)(dataset.name, dataset.corpus, {q: dataset.queries[q] for q in held_ids}, dataset.qrels),
            run.snapshot,
            embedder,
            run.doc_of_row,
        )
        n = len(held_ids)
        scores["without"] += evaluate_mode(sub, "hybrid", params)["mrr@10"] * n
        sub.embedder = AdaptedEmbedder(embedder, QueryAdapter(matrix, embedder.model_id, "fold"))
        scores["with"] += evaluate_mode(sub, "hybrid", params)["mrr@10"] * n
    cv = {k: round(v / len(qids), 4) for k, v in scores.items()}
    print(f"5-fold CV on {dataset.name} train, hybrid MRR@10: without adapter {cv['without']}, with {cv['with']}")

    matrix = train(np.ones(len(qids), dtype=bool))
    meta = {
        "trained_on": f"{dataset.name} train split ({len(qids)} questions)",
        "reg": args.reg,
        "epochs": args.epochs,
        "temperature": TEMPERATURE,
        "cv_hybrid_mrr@10": cv,
        "script": "benchmarks/train_query_adapter.py",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        matrix=matrix.astype(np.float16),
        model_id=np.array(embedder.model_id),
        meta=np.array(json.dumps(meta)),
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - started:.0f} s: {meta}")


if __name__ == "__main__":
    main()
