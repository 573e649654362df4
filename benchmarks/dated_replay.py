#!/usr/bin/env python
"""Replay a live desk on RealTime QA dev: each question asked as of its quiz date.

The whole pool of dev passages (2020 and 2021, each with its outlet and published date)
is indexed once (cached under ``retrieval.wiring.bench_cache()``). Every question's id
starts with its quiz date (``20200103_0``); it is asked through `sourced ask --json -`
JSON lines, ``{"question", "as_of", "k"}``, all in one process (click's runner over the
real command), and also as plain lines with no date (as of now). Reported per split
(train: 2020, test: 2021): MRR@10 with and without the date, with the as-of filter alone
(recency prior 0), and the share of the passages shown (top 10 and top 3) published after
the as-of day (0 by construction with as_of). The recency prior's strength and half-life
are chosen on train only, in-process through ``QueryService.ask`` (the code the command
calls). Usage:

    .venv/bin/python -m benchmarks.dated_replay [../shared/benchmarks/realtimeqa-dev] [--out FILE]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from retrieval.bench.beir import load_beir
from retrieval.config import load_config
from retrieval.embedding import configured_embedder
from retrieval.ingest.indexer import Indexer
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from retrieval.types import Document
from retrieval.wiring import bench_cache

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = ROOT.parent / "shared" / "benchmarks" / "realtimeqa-dev"
OUT = ROOT / "benchmarks" / "results" / f"dated-replay-folder-{date.today().isoformat()}.json"
WEIGHTS = (0.0, 0.1, 0.3, 0.6, 1.0)
HALF_LIVES = (7.0, 30.0)
K = 10


def as_of_of(qid: str) -> str:
    return f"{qid[:4]}-{qid[4:6]}-{qid[6:8]}"


def load_documents(folder: Path) -> list[Document]:
    docs = []
    with (folder / "corpus.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            meta = d.get("metadata") or {}
            published = datetime.fromisoformat(meta["published"]).replace(tzinfo=UTC) if meta.get("published") else None
            text = d.get("text") or ""
            title = d.get("title") or text.split(". ")[0][:120]
            docs.append(
                Document(
                    id=str(d["_id"]),
                    title=title,
                    text=text,
                    outlet=meta.get("outlet"),
                    published=published,
                    source=f"realtimeqa:{d['_id']}",
                )
            )
    return docs


def build(folder: Path, config, embedder) -> Path:
    stat = (folder / "corpus.jsonl").stat()
    key = hashlib.sha1(f"{folder.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    model = f"{embedder.model_id}-{config.embedding.backend}".replace("/", "_").replace(":", "_")
    cache = bench_cache() / f"dated-replay-{folder.name}-{key}" / model
    cache.mkdir(parents=True, exist_ok=True)
    Indexer(config, FolderStore(cache), embedder).index_documents(load_documents(folder), label=str(folder))
    return cache


def score(records: list[dict], qids: list[str]) -> dict:
    """MRR@10 and the share of shown passages published after the as-of day."""
    mrr = 0.0
    after = shown = after3 = shown3 = 0
    for record, qid in zip(records, qids, strict=True):
        day = as_of_of(qid)
        for hit in record["hits"][:K]:
            late = bool(hit["published"]) and hit["published"][:10] > day
            after += late
            shown += 1
            if hit["rank"] <= 3:
                after3 += late
                shown3 += 1
        rank = next((h["rank"] for h in record["hits"][:K] if h["doc_id"] == qid), None)
        mrr += 1.0 / rank if rank else 0.0
    return {
        "questions": len(qids),
        "mrr@10": round(mrr / len(qids), 4),
        "shown_after_as_of": round(after / max(1, shown), 4),
        "top3_after_as_of": round(after3 / max(1, shown3), 4),
    }


def in_process(service: QueryService, queries: dict[str, str], dated: bool, recency: float | None) -> list[dict]:
    from retrieval.cli.options import parse_as_of
    from retrieval.jsonout import answer_json

    out = []
    for qid, text in queries.items():
        as_of = parse_as_of(as_of_of(qid)) if dated else None
        out.append(answer_json(service.ask(text, k=K, as_of=as_of, recency=recency)))
    return out


def through_cli(index: Path, config_file: Path, lines: list[str]) -> list[dict]:
    """`sourced --config FILE ask --json - --index-dir INDEX` over the lines, in this process."""
    from click.testing import CliRunner

    from retrieval.cli.main import main

    result = CliRunner().invoke(
        main,
        ["--config", str(config_file), "ask", "--json", "-", "--index-dir", str(index)],
        input="\n".join(lines) + "\n",
        catch_exceptions=False,
    )
    if result.exit_code != 0:
        sys.exit(f"sourced ask failed ({result.exit_code}): {result.output[-500:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    args = sys.argv[1:]
    out = OUT
    if "--out" in args:
        at = args.index("--out")
        out = Path(args[at + 1])
        del args[at : at + 2]
    folder = Path(args[0]) if args else DEFAULT_FOLDER
    config = load_config()
    embedder = configured_embedder(config.embedding)
    started = time.perf_counter()
    index = build(folder, config, embedder)
    built = time.perf_counter() - started
    splits = {split: load_beir(folder, split).queries for split in ("train", "test")}
    service = QueryService(FolderStore(index), lambda: embedder, config.search)

    # Tune on train only: in-process, the code `ask` calls.
    grid = []
    for half_life in HALF_LIVES:
        tuned = QueryService(
            FolderStore(index), lambda: embedder, dataclasses.replace(config.search, recency_half_life_days=half_life)
        )
        for weight in WEIGHTS:
            if weight == 0.0 and half_life != HALF_LIVES[0]:
                continue
            row = score(in_process(tuned, splits["train"], True, weight), list(splits["train"]))
            grid.append({"recency": weight, "recency_half_life_days": half_life, **row})
            print(f"train recency {weight:<5} half-life {half_life:>4.0f} d: MRR@10 {row['mrr@10']:.4f}", flush=True)
    best = max(grid, key=lambda r: (r["mrr@10"], -r["recency"]))
    print(f"chosen on train: recency {best['recency']}, half-life {best['recency_half_life_days']} d")

    # The figures, through `sourced ask --json -` JSON lines, one process per condition.
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, weight, half_life in (
            ("prior (tuned)", best["recency"], best["recency_half_life_days"]),
            ("filter alone", 0.0, best["recency_half_life_days"]),
            ("configured", config.search.recency, config.search.recency_half_life_days),
        ):
            file = Path(tmp) / f"{label.split()[0]}.yaml"
            file.write_text(
                f"search:\n  recency: {weight}\n  recency_half_life_days: {half_life}\n"
                f"embedding:\n  backend: {config.embedding.backend}\n",
                encoding="utf-8",
            )
            for split, queries in splits.items():
                qids = list(queries)
                dated = [json.dumps({"question": queries[q], "as_of": as_of_of(q), "k": K}) for q in qids]
                t = time.perf_counter()
                rows[f"{split} as of quiz date, {label}"] = {
                    **score(through_cli(index, file, dated), qids),
                    "seconds": round(time.perf_counter() - t, 1),
                }
                if label == "configured":
                    plain = [json.dumps({"question": queries[q], "k": K}) for q in qids]
                    t = time.perf_counter()
                    rows[f"{split} no date (as of now)"] = {
                        **score(through_cli(index, file, plain), qids),
                        "seconds": round(time.perf_counter() - t, 1),
                    }
    for name, row in rows.items():
        print(
            f"{name:<45} MRR@10 {row['mrr@10']:.4f}  shown after as-of {row['shown_after_as_of']:.1%} "
            f"(top 3: {row['top3_after_as_of']:.1%})  {row['seconds']} s"
        )
    result = {
        "benchmark": "dated-replay",
        "dataset": str(folder.name),
        "date": date.today().isoformat(),
        "command": "python -m benchmarks.dated_replay ../shared/benchmarks/realtimeqa-dev",
        "model": embedder.model_id,
        "index_seconds": round(built, 1),
        "passages": service.stats().documents,
        "tuning_grid_train": grid,
        "chosen": {"recency": best["recency"], "recency_half_life_days": best["recency_half_life_days"]},
        "rows": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
