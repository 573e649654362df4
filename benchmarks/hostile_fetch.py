#!/usr/bin/env python
"""Memory and time of one fetch from hostile servers, against a normal page, in one run.

Starts the test news site (tests/webserver.py) on 127.0.0.1 and fetches, each in a
fresh child process so its peak RSS is its own:
  - a normal article page (the baseline);
  - gzip bombs: 64 MiB of zeros gzipped once (65 KB sent) and 1 GiB gzipped twice
    ("Content-Encoding: gzip, gzip", about 2 KB sent);
  - servers that trickle their headers, their body, or robots.txt, a line every 0.1 s.

For each: peak RSS of the child (getrusage), the peak of Python allocations during the
fetch (tracemalloc), the time taken against the deadline, and the outcome. Not part of
the test suite (tests assert the same bounds by counted bytes, never by the clock).

    .venv/bin/python -m benchmarks.hostile_fetch [TIMEOUT_SECONDS] [MAX_MEGABYTES]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from tests.webserver import NewsSite, Route, gzip_bomb

ROOT = Path(__file__).resolve().parent.parent

CASES = [
    ("normal page (baseline)", "/news/harbour-bridge-reopens"),
    ("gzip bomb, 64 MiB once", "/gzip-bomb"),
    ("gzip bomb, 1 GiB twice (gzip, gzip)", "/gzip-bomb-1g-double"),
    ("trickled headers", "/trickle-headers"),
    ("trickled body", "/trickle-body"),
    ("trickled robots.txt", "/news/harbour-bridge-reopens@trickled-robots"),
]


def child(url: str, timeout: float, max_mb: float) -> None:
    """One fetch in this process; prints one JSON line."""
    from retrieval.ingest.web.fetch import Fetcher, FetchError, FetchSettings

    settings = FetchSettings(timeout=timeout, max_bytes=int(max_mb * 1e6), host_delay=0.0)
    with Fetcher(settings) as fetcher:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        start = time.monotonic()
        try:
            outcome = f"fetched, {len(fetcher.get(url).body):,} bytes"
        except FetchError as exc:
            outcome = exc.reason
        elapsed = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"elapsed": elapsed, "rss_kb": rss, "rss_before_kb": before, "traced": peak, "outcome": outcome}))


def main() -> None:
    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    max_mb = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    print(f"web.timeout_seconds {timeout:g}, web.max_megabytes {max_mb:g}; building the bombs…", flush=True)
    gzip_bomb(64, 1)
    gzip_bomb(1024, 2)
    print(f"{'case':38} {'peak RSS':>9} {'+fetch':>8} {'traced':>8} {'time':>7}  outcome")
    for name, target in CASES:
        path, _, variant = target.partition("@")
        with NewsSite() as site:  # a fresh site per case: robots.txt and its counters anew
            site.routes["/gzip-bomb-1g-double"] = Route(
                headers={"Content-Encoding": "gzip, gzip"}, make_body=lambda: gzip_bomb(1024, 2)
            )
            if variant == "trickled-robots":
                site.routes["/robots.txt"] = Route(
                    content_type="text/plain", body=b"User-agent: *\n", trickle_headers=True
                )
            run = subprocess.run(
                [sys.executable, __file__, "--child", site.url + path, str(timeout), str(max_mb)],
                capture_output=True,
                text=True,
                check=True,
            )
        r = json.loads(run.stdout.strip().splitlines()[-1])
        grew = (r["rss_kb"] - r["rss_before_kb"]) / 1024
        print(
            f"{name:38} {r['rss_kb'] / 1024:7.1f}MB {grew:6.1f}MB {r['traced'] / 1e6:6.2f}MB "
            f"{r['elapsed']:6.2f}s  {r['outcome']}"
        )
    print(f"(time is against the deadline of {timeout:g} s per request; robots.txt is a request of its own)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
