"""Peak memory of reading a JSONL file, by file size: does it grow with the file?

Writes JSONL files of the given sizes (and a one-line baseline) into a temporary folder,
reads each in a fresh child process and prints the child's peak RSS, and its ratio to
the baseline read in the same run. Two ways of reading:

- ``lines``: the reader's stream alone (open_article + article_lines, each line parsed
  as JSON and dropped): what reading a file costs, whatever happens to its articles.
- ``read``: ``CollectionReader.read`` as a sync does it, which keeps every article it
  read (title, text, link) in memory until they are indexed: that part grows with the
  number of articles by design; the figure shows what is left once it is counted.

Not part of the test suite (minutes, and hundreds of MB of disk). Run from the project:

    .venv/bin/python benchmarks/jsonl_memory.py              # 50 MB and 400 MB
    .venv/bin/python benchmarks/jsonl_memory.py --sizes 20,100 --modes read
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, path = sys.argv[1], Path(sys.argv[2])
started = time.perf_counter()
if mode == "lines":
    from retrieval.ingest.readers.formats import format_for
    from retrieval.ingest.readers.reader import article_lines, open_article
    fmt = format_for(path)
    n = held = 0
    with open_article(path, fmt) as f:
        for line in article_lines(f, fmt):
            if line.strip():
                json.loads(line)
                n += 1
else:
    from retrieval.ingest.readers import CollectionReader
    collection = CollectionReader().read([path])
    n = len(collection.documents)
    held = sum(len(d.text) + len(d.title) + len(d.url or "") for d in collection.documents)
import retrieval
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
print(json.dumps({"code": str(Path(retrieval.__file__).parent.parent), "items": n, "held_mb": held / 2**20, "peak_mb": peak_kb / 1024,
                  "seconds": time.perf_counter() - started}))
"""

WORDS = [
    "council",
    "harbour",
    "ferry",
    "strike",
    "minister",
    "budget",
    "river",
    "flood",
    "school",
    "election",
    "court",
    "ruling",
    "hospital",
    "vaccine",
    "energy",
    "prices",
    "wind",
    "farm",
    "railway",
    "station",
    "museum",
    "festival",
    "league",
    "match",
    "drought",
    "reservoir",
    "farmers",
    "harvest",
    "wildfire",
    "coastguard",
    "rescue",
    "bridge",
    "repairs",
    "protest",
]


def write_jsonl(path: Path, megabytes: float) -> int:
    """About ``megabytes`` of distinct, article-like JSONL lines; returns the line count."""
    target = int(megabytes * 2**20)
    written = n = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            words = [WORDS[(n * 7 + i * 13) % len(WORDS)] for i in range(300)]
            line = json.dumps(
                {
                    "title": f"Story {n}: {words[0]} {words[1]}",
                    "url": f"https://example.org/news/{n}",
                    "published": "2024-05-01T08:00:00Z",
                    "text": f"Report number {n}. " + " ".join(words) + ".",
                }
            )
            f.write(line + "\n")
            written += len(line) + 1
            n += 1
    return n


def measure(mode: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT)}
    # Run from the file's folder: with -c the current folder comes first on sys.path, and
    # it must not shadow the code PYTHONPATH names (a checkout being compared, say).
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path)],
        env=env,
        cwd=path.parent,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,400", help="file sizes in MB, comma-separated (default 50,400)")
    parser.add_argument("--modes", default="lines,read", help="lines, read or both (default)")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    with tempfile.TemporaryDirectory(prefix="jsonl-memory-") as tmp:
        files = {"baseline": Path(tmp) / "baseline.jsonl"}
        write_jsonl(files["baseline"], 0.001)  # one line
        for size in sizes:
            files[f"{size:g} MB"] = Path(tmp) / f"{size:g}mb.jsonl"
            started = time.perf_counter()
            lines = write_jsonl(files[f"{size:g} MB"], size)
            print(f"wrote {size:g} MB: {lines} lines in {time.perf_counter() - started:.0f} s", flush=True)
        print(f"code read: {measure(modes[0], files['baseline'])['code']}")
        print(
            f"\n{'mode':<6} {'file':>9} {'items':>8} {'articles held':>14} {'peak RSS':>10} {'x baseline':>11} {'time':>7}"
        )
        for mode in modes:
            base = None
            for name, path in files.items():
                r = measure(mode, path)
                base = base or r["peak_mb"]
                held = f"{r['held_mb']:.0f} MB" if mode == "read" else "-"
                print(
                    f"{mode:<6} {name:>9} {r['items']:>8} {held:>14} {r['peak_mb']:>7.0f} MB"
                    f" {r['peak_mb'] / base:>10.2f}x {r['seconds']:>6.1f}s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
