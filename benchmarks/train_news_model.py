"""Fine-tune the top layers of the packaged all-MiniLM-L6-v2 on news questions.

    .venv/bin/python -m benchmarks.train_news_model ../shared/benchmarks/realtimeqa-dev [--cv]

Trains on the *train* split of a BEIR-layout set of questions, each paired with the
passage that answers it (RealTime QA dev: the 2020 questions), with the other passages
of the batch as negatives (softmax over cosine / temperature). Only the top ``--layers``
transformer layers learn; the rest of the model, its word embeddings included, stays as
packaged, so the file written holds only those layers (float16) and
``retrieval.embedding.tuned`` rebuilds the model from the packaged one on first use.

``--cv`` prints 5-fold cross-validated dense MRR@10 on the train split per epoch (how
the defaults below were chosen) and writes nothing. ``--oof FILE`` trains the same five
fold models and writes, for every train question, the confidence the product reports
with the model that did not see it: what the abstention threshold is calibrated on. Without it the model is trained on
the whole train split and written to ``--out``; its test-split figures come from
``sourced bench beir`` like every other figure in docs/quality.md. Runs offline on the
CPU (about 20 s an epoch on two cores).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from contextlib import contextmanager
from pathlib import Path

from retrieval.embedding.base import PACKAGED_MODEL_ID, force_offline, packaged_model_path
from retrieval.embedding.tuned import MODELS_DIR, TUNED

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_OUT = MODELS_DIR / TUNED["all-MiniLM-L6-v2-news"][0]


def read_set(folder: Path, split: str):
    corpus = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            corpus[doc["_id"]] = " ".join(x for x in (doc.get("title"), doc["text"]) if x)
    with open(folder / "queries.jsonl", encoding="utf-8") as fh:
        queries = {q["_id"]: q["text"] for q in map(json.loads, fh)}
    pairs = []
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as fh:
        for line in fh:
            parts = line.strip().split("\t")
            if len(parts) >= 3 and parts[-1].isdigit() and int(parts[-1]) > 0:
                pairs.append((parts[0], parts[1]))
    return corpus, queries, pairs


def mrr_at_10(model, corpus, queries, pairs) -> float:
    import numpy as np

    ids = list(corpus)
    passages = model.encode([corpus[i] for i in ids], normalize_embeddings=True, batch_size=64)
    questions = model.encode([queries[q] for q, _ in pairs], normalize_embeddings=True, batch_size=64)
    scores = questions @ passages.T
    total = 0.0
    for j, (_, relevant) in enumerate(pairs):
        top = [ids[i] for i in np.argsort(-scores[j])[:10]]
        if relevant in top:
            total += 1.0 / (top.index(relevant) + 1)
    return total / max(len(pairs), 1)


@contextmanager
def product_run(model, dataset_dir: Path, split: str, config, sentences: bool = False):
    """(dataset, embedder, run): ``model`` saved and exported to the configured backend like
    any local model, and the dataset's corpus indexed with it through the product."""
    import tempfile

    from retrieval.bench.beir import load_beir, prepare
    from retrieval.embedding import make_embedder

    dataset = load_beir(dataset_dir, split)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "fold-model"
        model.save(str(folder))
        embedder = make_embedder(str(folder), config.embedding.backend, Path(tmp) / "onnx")
        run = prepare(dataset, dataset_dir, config, embedder, Path(tmp) / "bench", sentences=sentences)
        try:
            yield dataset, embedder, run
        finally:
            run.snapshot.close()


def product_confidences(model, dataset_dir: Path, split: str, question_ids: list[str]) -> dict[str, float]:
    """What the product reports as ``confidence`` for these questions with ``model``."""
    from retrieval.config import load_config, replace
    from retrieval.query.service import QueryService
    from retrieval.store import FolderStore

    config = replace(load_config(), search={"min_score": 0.0})
    with product_run(model, dataset_dir, split, config, sentences=True) as (dataset, embedder, run):
        service = QueryService(FolderStore(run.snapshot.path.parent), lambda: embedder, config.search)
        return {q: service.ask(dataset.queries[q], k=5).confidence for q in question_ids}


def product_signals(model, dataset_dir: Path, split: str, question_ids: list[str]) -> dict[str, list]:
    """What ``answered`` is weighed on (``Answer.signals``) for these questions with
    ``model``: each asked as is (it should be answered) and, when it is in
    ``benchmarks/devsets/quiz-unanswerable-<split>.jsonl``, again with its evidence filtered
    out (it should not), and of its small desk with and without its evidence
    (``benchmarks/devsets/desks-<split>.jsonl``). Records as ``benchmarks/ranking_eval.py`` writes them."""
    from benchmarks.desks import MemoEmbedder, ask_desks, load_desks
    from retrieval.config import load_config
    from retrieval.query.ranking import Filters
    from retrieval.query.service import QueryService
    from retrieval.store import FolderStore

    unanswerable = {}
    path = ROOT / "benchmarks" / "devsets" / f"quiz-unanswerable-{split}.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            unanswerable[row["query_id"]] = row["exclude"]
    config = load_config()
    out: dict[str, list] = {}
    with product_run(model, dataset_dir, split, config, sentences=True) as (dataset, embedder, run):
        service = QueryService(FolderStore(run.snapshot.path.parent), lambda: embedder, config.search)
        everything = set(dataset.corpus)

        def record(kind, answer, should, key):
            signals = answer.signals.as_dict() if answer.signals is not None else None
            return [kind, round(answer.confidence, 4), answer.evidence, should, None, key, signals]

        for q in question_ids:
            text = dataset.queries[q]
            out[q] = [record(f"quiz_{split}", service.ask(text, k=10), True, q)]
            if q in unanswerable:
                keep = Filters(documents=frozenset(everything - set(unanswerable[q])))
                out[q].append(record(f"quizU_{split}", service.ask(text, k=5, filters=keep), False, q))
        # The same questions asked of their small desks (benchmarks/desks.py).
        documents = {d.id: d for d in dataset.documents()}
        ask_desks(
            load_desks(split, set(question_ids)),
            documents,
            dataset.queries,
            config,
            MemoEmbedder(embedder),
            split,
            lambda kind, answer, should, key: out[key].append(record(kind, answer, should, key)),
        )
    return out


FUSION_ALPHAS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def fusion_ranks(model, dataset_dir: Path, split: str, question_ids: list[str]) -> dict[str, dict[str, float]]:
    """Reciprocal rank (MRR@10) of each question's passage with ``model`` in the product's
    index and ranking: dense, bm25, and hybrid at each of ``FUSION_ALPHAS``."""
    from retrieval.bench.metrics import mrr_at_k
    from retrieval.config import load_config
    from retrieval.query.ranking import FusionParams, retrieve

    systems = [("dense", "dense", 1.0), ("bm25", "bm25", 0.0)] + [(f"hybrid {a}", "hybrid", a) for a in FUSION_ALPHAS]
    out: dict[str, dict[str, float]] = {}
    with product_run(model, dataset_dir, split, load_config()) as (dataset, embedder, run):
        for q in question_ids:
            text = dataset.queries[q]
            vector = embedder.embed_query(text)
            out[q] = {}
            for name, mode, alpha in systems:
                found = retrieve(run.snapshot, vector, text, mode, 300, FusionParams("convex", alpha))
                out[q][name] = mrr_at_k(run.rank_documents([c.row for c in found]), dataset.qrels[q], 10)
    return out


def fine_tune(base, examples, layers: int, epochs: int, lr: float, temperature: float, seed: int, each_epoch=None):
    import torch

    model = copy.deepcopy(base)
    learn = tuple(f"encoder.layer.{i}." for i in range(6 - layers, 6))
    params = []
    for name, p in model[0].auto_model.named_parameters():
        p.requires_grad = name.startswith(learn)
        if p.requires_grad:
            params.append(p)
    optimiser = torch.optim.AdamW(params, lr=lr)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    examples = list(examples)

    def encode(texts):
        features = model.preprocess(texts) if hasattr(model, "preprocess") else model.tokenize(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    for epoch in range(epochs):
        rng.shuffle(examples)
        model.train()
        for i in range(0, len(examples), 32):
            batch = examples[i : i + 32]
            q, p = encode([a for a, _ in batch]), encode([b for _, b in batch])
            loss = torch.nn.functional.cross_entropy(q @ p.T / temperature, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        model.eval()
        if each_epoch is not None:
            with torch.no_grad():
                each_epoch(model, epoch)
    return model, learn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--layers", type=int, default=6, help="top transformer layers that learn (1-6)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cv", action="store_true", help="5-fold CV on the split; writes nothing")
    parser.add_argument(
        "--oof",
        type=Path,
        metavar="JSON",
        help="write each question's out-of-fold answer confidence (the product's, from a model "
        "trained without its fold) to JSON, for benchmarks/calibrate_abstention.py --oof; writes no model",
    )
    parser.add_argument(
        "--oof-fusion",
        type=Path,
        metavar="JSON",
        help="write each question's out-of-fold MRR@10 in the product's ranking (dense, bm25, "
        "hybrid at several alphas) to JSON and print the means; writes no model",
    )
    parser.add_argument(
        "--oof-signals",
        type=Path,
        metavar="JSON",
        help="write each train question's out-of-fold answer signals to JSON, for "
        "benchmarks/fit_answerable.py --oof: asked of the pool as is and with its evidence filtered "
        "out, and of its small desk with and without its evidence; writes no model",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if not 1 <= args.layers <= 6:
        parser.error("--layers must be between 1 and 6")

    force_offline()
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(max(1, torch.get_num_threads()))
    corpus, queries, pairs = read_set(args.dataset, args.split)
    base = SentenceTransformer(str(packaged_model_path()), device="cpu")
    started = time.perf_counter()
    shuffled = list(pairs)
    random.Random(1).shuffle(shuffled)
    folds = [shuffled[i::5] for i in range(5)]

    def train(chosen, each_epoch=None):
        """Fine-tune on ``chosen`` (question id, passage id) pairs with the settings given."""
        examples = [(queries[q], corpus[p]) for q, p in chosen]
        return fine_tune(base, examples, args.layers, args.epochs, args.lr, args.temperature, args.seed, each_epoch)

    def rest_of(f):
        return [x for g, fold in enumerate(folds) if g != f for x in fold]

    def out_of_fold(measure) -> dict:
        """``measure(model, question ids)`` of each fold's questions, by a model trained on
        the other four folds."""
        found = {}
        for f, held in enumerate(folds):
            model, _ = train(rest_of(f))
            found.update(measure(model, args.dataset, args.split, [q for q, _ in held]))
            print(f"fold {f + 1}/5: {len(held)} questions, {time.perf_counter() - started:.0f} s", flush=True)
        return found

    if args.oof:
        confidences = out_of_fold(product_confidences)
        args.oof.write_text(json.dumps(confidences, indent=0, sort_keys=True))
        print(f"wrote {args.oof}: {len(confidences)} out-of-fold confidences")
        return
    if args.oof_signals:
        found = out_of_fold(product_signals)
        records = [r for q in sorted(found) for r in found[q]]
        args.oof_signals.write_text(json.dumps({"records": records}, indent=0) + "\n")
        print(f"wrote {args.oof_signals}: {len(records)} out-of-fold records")
        return
    if args.oof_fusion:
        ranks = out_of_fold(fusion_ranks)
        args.oof_fusion.write_text(json.dumps(ranks, indent=0, sort_keys=True))
        systems = next(iter(ranks.values()))
        print(json.dumps({name: round(sum(r[name] for r in ranks.values()) / len(ranks), 4) for name in systems}))
        return
    if args.cv:
        per_epoch = np.zeros(args.epochs)
        untuned = 0.0
        for f, held in enumerate(folds):
            untuned += mrr_at_10(base, corpus, queries, held) / 5

            def score(model, epoch, held=held):
                per_epoch[epoch] += mrr_at_10(model, corpus, queries, held) / 5

            train(rest_of(f), score)
        print(
            json.dumps(
                {
                    "layers": args.layers,
                    "lr": args.lr,
                    "temperature": args.temperature,
                    "cv_dense_mrr10_untuned": round(untuned, 4),
                    "cv_dense_mrr10_per_epoch": [round(float(x), 4) for x in per_epoch],
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
        )
        return
    model, learn = train(pairs)
    replaced = {
        name: p.detach().numpy().astype(np.float16)
        for name, p in model[0].auto_model.named_parameters()
        if name.startswith(learn)
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, __base__=np.array(PACKAGED_MODEL_ID), **replaced)
    tmp.replace(args.out)
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB): top {args.layers} layers, "
        f"{args.epochs} epochs, lr {args.lr}, {len(pairs)} pairs, {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
