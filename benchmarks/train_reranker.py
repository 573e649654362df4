#!/usr/bin/env python
"""Train the answer re-ranker (a small cross-encoder) from the packaged all-MiniLM-L6-v2.

    PYTHONPATH=. .venv/bin/python benchmarks/train_reranker.py ../shared/benchmarks/realtimeqa-dev \\
        [--layers 3] [--epochs 3] [--swaps] [--out retrieval/embedding/models/rerank-news-v1.npz]

The model reads a question and a passage together and says whether the passage answers it
(one logit; ``retrieval.query.rerank``). Its body is the first ``--layers`` transformer
layers of the packaged model (the word embeddings stay as packaged and are not stored), its
head one linear layer on the mean of the token states (the packaged model's pooling). Pairs come from RealTime QA dev **train** (2020)
only, and only 2020 passages are used as text:

- a quiz question and its evidence passage (positive), the same passage glued to another
  passage (positive: a long news passage holds the answer somewhere), the evidence with its
  answer sentence dropped (negative: on topic, answer gone), with ``--swaps`` the question
  with one of its names that the evidence holds swapped for a name it lacks (negative:
  "Which Texas city" asked of a passage about another city), the best hybrid-ranked 2020
  passages that do not contain the quiz answer (negatives) and one random passage;
- "Who is NAME?" / "What did NAME do?" for names found in 2020 passages (positive: a passage
  with the name; negatives: the best-ranked passages without it, and with ``--swaps`` the
  same passage asked with the first name or surname swapped), and unknown names (a first
  name and a surname of two people: every passage is a negative).

A calibration fold (a fifth of the train questions and names, by a hash of their id) is kept
out of training; the threshold on the model's score is chosen on it (``--report`` JSON).
Runs offline on the CPU.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.devsets.build import _contains, _load, _pick, person_names  # noqa: E402
from retrieval.bench.beir import load_beir, prepare  # noqa: E402
from retrieval.config import load_config  # noqa: E402
from retrieval.embedding import configured_embedder  # noqa: E402
from retrieval.embedding.base import PACKAGED_MODEL_ID, force_offline, packaged_model_path  # noqa: E402
from retrieval.query.ranking import FusionParams, retrieve  # noqa: E402
from retrieval.wiring import bench_cache  # noqa: E402

DEVSETS = ROOT / "benchmarks" / "devsets"
_SENTENCE = re.compile(r"(?<=[.!?”\"])\s+(?=[A-Z“\"])")
_CAPITAL = re.compile(r"(?<![\w'’-])[A-Z][a-z]{3,}(?![\w'’-])")


def swapped(question: str, passage: str, words: list[str], rng: random.Random) -> str | None:
    """``question`` with one of its names that ``passage`` holds replaced by a name the
    passage lacks (from ``words``): on topic, but asking about something it does not say."""
    names = [w for w in _CAPITAL.findall(question)[1:] if w in passage] if question else []
    if not names:
        return None
    name = rng.choice(names)
    for _ in range(20):
        other = rng.choice(words)
        if other != name and other not in passage:
            return re.sub(rf"(?<![\w'’-]){re.escape(name)}(?![\w'’-])", other, question, count=1)
    return None


def calibration_fold(key: str) -> bool:
    """Whether a train question or name is kept out of training, to calibrate on."""
    return _pick(key, 5) == 0


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Miner:
    """Hybrid-ranked 2020 passages for a question (the default ranking over the dev pool)."""

    def __init__(self, folder: Path, train_ids: set[str]) -> None:
        config = load_config()
        self.embedder = configured_embedder(config.embedding)
        test = load_beir(folder, "test")
        self.run = prepare(test, folder, config, self.embedder, bench_cache())
        self.params = FusionParams.from_settings(config.search)
        self.train_ids = train_ids

    def top(self, question: str, n: int = 12) -> list[str]:
        vector = self.embedder.embed_query(question)
        rows = [c.row for c in retrieve(self.run.snapshot, vector, question, "hybrid", 200, self.params)]
        return [d for d in self.run.rank_documents(rows, 200) if d in self.train_ids][:n]


def build_pairs(folder: Path, seed: int = 0, swaps: bool = False) -> tuple[list, list, dict]:
    """(training pairs, calibration pairs, counts); a pair is (question, passage, label)."""
    rng = random.Random(seed)
    corpus, queries, splits = _load(folder)
    train_ids = {pid for _, pid in splits["train"]}
    texts = {pid: corpus[pid] for pid in train_ids}
    ids = sorted(train_ids)
    miner = Miner(folder, train_ids)
    words = sorted({w for pid in ids for w in _CAPITAL.findall(texts[pid])[1:]})
    fit: list[tuple[str, str, float]] = []
    held: list[tuple[str, str, float]] = []
    for qid, pid in splits["train"]:
        question, answer = queries[qid]
        out = held if calibration_fold(qid) else fit
        evidence = texts[pid]
        out.append((question, evidence, 1.0))
        other = texts[rng.choice(ids)]
        out.append((question, f"{other} {evidence}" if rng.random() < 0.5 else f"{evidence} {other}", 1.0))
        sentences = _SENTENCE.split(evidence)
        if answer and len(sentences) > 1:
            kept = " ".join(s for s in sentences if answer.lower() not in s.lower())
            if kept and kept != evidence and answer.lower() not in kept.lower():
                out.append((question, kept, 0.0))
        changed = swapped(question, evidence, words, rng) if swaps else None
        if changed:
            out.append((changed, evidence, 0.0))
        negatives = [d for d in miner.top(question) if d != pid and not (answer and _contains(texts[d], answer))]
        for d in negatives[:5]:
            out.append((question, texts[d], 0.0))
        if len(negatives) >= 2:
            out.append((question, f"{texts[negatives[0]]} {texts[negatives[1]]}", 0.0))
        out.append((question, texts[rng.choice(ids)], 0.0))
    # Name questions: the dev set's names (its calibration fold kept out) and every other name
    # found in the 2020 passages.
    held_names = {r["name"] for r in _jsonl(DEVSETS / "names-train.jsonl") if calibration_fold(r["id"])}
    names: dict[str, set[str]] = {}
    for pid in ids:
        for name in person_names(texts[pid]):
            names.setdefault(name, set()).add(pid)
    templates = ("Who is {}?", "What did {} do?")
    for name in sorted(names):
        out = held if name in held_names else fit
        question = templates[_pick(name, 2)].format(name)
        with_name = sorted(names[name])
        shown = texts[rng.choice(with_name)]
        out.append((question, shown, 1.0))
        if swaps:
            first, last = name.split(" ", 1)
            other = rng.choice([w for w in words if w not in shown] or [last])
            out.append((question.replace(rng.choice([first, last]), other, 1), shown, 0.0))
        without = [d for d in miner.top(question, 8) if name.lower() not in texts[d].lower()]
        for d in without[:2]:
            out.append((question, texts[d], 0.0))
    for row in _jsonl(DEVSETS / "unknown-names-train.jsonl"):
        out = held if calibration_fold(row["id"]) else fit
        for d in miner.top(row["q"], 3):
            out.append((row["q"], texts[d], 0.0))
    counts = {
        "fit_pairs": len(fit),
        "fit_positive": int(sum(p[2] for p in fit)),
        "calibration_pairs": len(held),
        "calibration_positive": int(sum(p[2] for p in held)),
        "names_found": len(names),
    }
    rng.shuffle(fit)
    return fit, held, counts


def make_model(layers: int):
    import torch
    from transformers import AutoConfig, AutoModel

    path = packaged_model_path()
    config = AutoConfig.from_pretrained(str(path), num_hidden_layers=layers)
    body = AutoModel.from_pretrained(str(path), config=config, add_pooling_layer=False)
    head = torch.nn.Linear(config.hidden_size, 1)
    return body, head


def pooled(body, enc):
    """Mean of the token states (the packaged model's own pooling), one row per pair."""
    hidden = body(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def scores(body, head, tokenizer, pairs, max_tokens: int, batch: int = 64) -> np.ndarray:
    import torch

    out = []
    body.eval()
    with torch.no_grad():
        for i in range(0, len(pairs), batch):
            chunk = pairs[i : i + batch]
            enc = tokenizer(
                [p[0] for p in chunk],
                [p[1] for p in chunk],
                truncation="only_second",
                max_length=max_tokens,
                padding=True,
                return_tensors="pt",
            )
            out.append(head(pooled(body, enc)).squeeze(-1).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def auc(values: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = values[labels > 0.5], values[labels <= 0.5]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--swaps", action="store_true", help="add the name-swap negatives (v2, docs/quality.md)")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--out", type=Path, default=ROOT / "retrieval" / "embedding" / "models" / "rerank-news-v1.npz")
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()
    force_offline()
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    torch.set_num_threads(2)
    started = time.perf_counter()
    fit, held, counts = build_pairs(args.folder, swaps=args.swaps)
    print(json.dumps(counts), flush=True)
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_model_path()))
    body, head = make_model(args.layers)
    body.embeddings.word_embeddings.weight.requires_grad_(False)  # stays as packaged, not stored
    params = [p for p in body.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        [{"params": params, "lr": args.lr}, {"params": list(head.parameters()), "lr": 20 * args.lr}], weight_decay=0.01
    )
    steps = args.epochs * ((len(fit) + args.batch - 1) // args.batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, (steps - s) / steps)
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    held_labels = np.array([p[2] for p in held])
    history = []
    rng = random.Random(1)
    for epoch in range(args.epochs):
        body.train()
        rng.shuffle(fit)
        total = 0.0
        for i in range(0, len(fit), args.batch):
            chunk = fit[i : i + args.batch]
            enc = tokenizer(
                [p[0] for p in chunk],
                [p[1] for p in chunk],
                truncation="only_second",
                max_length=args.max_tokens,
                padding=True,
                return_tensors="pt",
            )
            logits = head(pooled(body, enc)).squeeze(-1)
            loss = loss_fn(logits, torch.tensor([p[2] for p in chunk], dtype=torch.float32))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(chunk)
        held_scores = scores(body, head, tokenizer, held, args.max_tokens)
        row = {
            "epoch": epoch + 1,
            "train_loss": round(total / len(fit), 4),
            "calibration_auc": round(auc(held_scores, held_labels), 4),
            "seconds": round(time.perf_counter() - started, 1),
        }
        history.append(row)
        print(json.dumps(row), flush=True)
    state = {k: v.detach().numpy() for k, v in body.state_dict().items()}
    arrays = {
        k: v.astype(np.float16) for k, v in state.items() if "word_embeddings" not in k and "position_ids" not in k
    }
    arrays["head.weight"] = head.weight.detach().numpy().astype(np.float32)
    arrays["head.bias"] = head.bias.detach().numpy().astype(np.float32)
    arrays["__base__"] = np.array(PACKAGED_MODEL_ID)
    arrays["__layers__"] = np.array(args.layers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    report = {
        "date": date.today().isoformat(),
        "command": " ".join(sys.argv),
        "layers": args.layers,
        "epochs": args.epochs,
        "swaps": args.swaps,
        "lr": args.lr,
        "max_tokens": args.max_tokens,
        **counts,
        "history": history,
        "out": str(args.out.relative_to(ROOT)) if args.out.is_relative_to(ROOT) else str(args.out),
        "bytes": args.out.stat().st_size,
    }
    target = args.report or ROOT / "benchmarks" / "results" / f"rerank-train-folder-{date.today().isoformat()}.json"
    target.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) and {target}")


if __name__ == "__main__":
    main()
