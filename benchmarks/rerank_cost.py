"""What a cross-encoder re-ranker would cost per question on this machine.

    .venv/bin/python -m benchmarks.rerank_cost [--pairs 10 20] [--chars 300 600]

A cross-encoder reads the question and each candidate passage together, so every question
pays one forward pass over (question + passage) for each passage re-ranked. A MiniLM-sized
cross-encoder is the default model's architecture, so timing the default embedding backend
(onnx-int8) on such pairs measures that cost without any cross-encoder weights. Pairs are
cut from the prose of the bundled articles. Prints the median of 5 runs per shape, and the question
alone for reference (what a warm question already pays to embed itself).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from retrieval.config import load_config
from retrieval.embedding import make_embedder

ROOT = Path(__file__).resolve().parents[1]

QUESTION = "who urged Amazon to stop selling Rekognition?"


def median_ms(embed, texts: list[str], runs: int = 5) -> float:
    embed(texts)  # warm up: first calls allocate
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        embed(texts)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--chars", type=int, nargs="+", default=[300, 600])
    args = parser.parse_args()
    config = load_config()
    embedder = make_embedder(config.embedding.model, config.embedding.backend, None)
    # Prose paragraphs only: front matter, links and base64 would cost many more word
    # pieces per character than the passages a re-ranker reads.
    paragraphs = [
        " ".join(block.split())
        for file in sorted((ROOT / "data" / "articles").glob("*.txt"))
        for block in file.read_text(encoding="utf-8").split("\n\n")
    ]
    text = " ".join(
        p for p in paragraphs if len(p) >= 150 and sum(c.isalpha() or c.isspace() for c in p) > 0.9 * len(p)
    )
    print(f"backend {config.embedding.backend}, model {embedder.model_id}")
    print(f"question alone: {median_ms(embedder.embed, [QUESTION]):.1f} ms")
    for chars in args.chars:
        for n in args.pairs:
            pairs = [f"{QUESTION} {text[i * chars : (i + 1) * chars]}" for i in range(n)]
            print(f"{n:3d} pairs of question + {chars} characters: {median_ms(embedder.embed, pairs):7.1f} ms")


if __name__ == "__main__":
    main()
