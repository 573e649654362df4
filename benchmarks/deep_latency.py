"""Warm question latency at -k 5 and -k 100 with the default model, this code against a
baseline revision, on the same indexes in the same run:

    .venv/bin/python -m benchmarks.deep_latency ../shared/benchmarks/realtimeqa-dev \
        ../shared/benchmarks/scifact [--baseline db4c8f3] [--questions 100] [--json]

Each BEIR corpus is indexed once (default settings: onnx-int8, sentence vectors) into the
cache. Each code version then runs in its own process (PYTHONPATH: this checkout, or a git
worktree of the baseline), asks the corpus's first N questions once to warm up and once
timed at each depth, and reports the median per question, model included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MEASURE = r"""
import json, statistics, sys, time
from pathlib import Path
from retrieval.config import build_config
from retrieval.query.service import QueryService
try:
    from retrieval.store import FolderStore
except ImportError:
    from retrieval.index import FolderStore
folder, questions = Path(sys.argv[1]), json.loads(sys.argv[2])
config = build_config({})
try:
    from retrieval.embedding import configured_embedder
    embedder = configured_embedder(config.embedding)
except ImportError:  # before the query adapter
    from retrieval.embedding import make_embedder
    embedder = make_embedder(config.embedding.model, config.embedding.backend)
service = QueryService(FolderStore(folder), lambda: embedder, config.search)
for q in questions:
    service.ask(q, k=100)
out = {}
for k in (5, 100):
    times = []
    for q in questions:
        started = time.perf_counter()
        service.ask(q, k=k)
        times.append((time.perf_counter() - started) * 1000)
    out[k] = round(statistics.median(times), 2)
import retrieval
out["code"] = str(Path(retrieval.__file__).parent.parent)
print(json.dumps(out))
"""


def build(corpus: Path) -> Path:
    from retrieval.config import build_config
    from retrieval.embedding import configured_embedder
    from retrieval.ingest.indexer import Indexer
    from retrieval.paths import cache_dir
    from retrieval.store import FolderStore
    from retrieval.types import Document

    folder = cache_dir() / "deep-latency" / corpus.resolve().name
    store = FolderStore(folder)
    if not store.exists():
        docs = []
        with open(corpus / "corpus.jsonl", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                docs.append(Document(id=f"c-{row['_id']}", title=row.get("title") or "", text=row["text"]))
        config = build_config({})
        print(f"indexing {corpus.name} ({len(docs)} documents), once", file=sys.stderr)
        Indexer(config, store, configured_embedder(config.embedding)).index_documents(docs, label=str(corpus))
    return folder


def worktree(rev: str) -> Path:
    where = Path("/tmp") / f"sourced-baseline-{rev}"
    if not where.is_dir():
        # git's "HEAD is now at …" goes to stderr: stdout is the figures (--json).
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), rev], check=True, stdout=sys.stderr
        )
    return where


def measure(code: Path, folder: Path, questions: list[str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(folder), json.dumps(questions)],
        env={**os.environ, "PYTHONPATH": str(code)},
        cwd=code,  # `python -c` puts the working folder first on the path
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result.pop("code")).resolve() != code.resolve():  # the editable install must not win
        raise SystemExit(f"measured the wrong checkout instead of {code}")
    return {f"k{k}": v for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="+", type=Path)
    parser.add_argument("--baseline", default="db4c8f3")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base = worktree(args.baseline)
    rows = []
    for corpus in args.corpora:
        folder = build(corpus)
        with open(corpus / "queries.jsonl", encoding="utf-8") as f:
            questions = [json.loads(line)["text"] for line in f][: args.questions]
        before = measure(base, folder, questions)
        now = measure(ROOT, folder, questions)
        for k in ("k5", "k100"):
            rows.append(
                {
                    "corpus": corpus.name,
                    "k": int(k[1:]),
                    "baseline_ms": before[k],
                    "now_ms": now[k],
                    "ratio": round(now[k] / before[k], 2),
                }
            )
    if args.json:
        print(json.dumps({"baseline": args.baseline, "questions": args.questions, "rows": rows}))
        return
    print(f"median ms per question, {args.questions} questions, baseline {args.baseline}")
    for r in rows:
        print(
            f"  {r['corpus']:20} k {r['k']:3}  baseline {r['baseline_ms']:7.2f}  now {r['now_ms']:7.2f}  x{r['ratio']}"
        )


if __name__ == "__main__":
    main()
