"""The measured child process of `sourced bench speed`: run the CLI, then report peak memory.

Run as ``python -m retrieval.bench.child ARGS...`` so the benchmark never imports the CLI.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

RSS_ENV = "SOURCED_RSS_REPORT"


def main() -> None:
    """Run the CLI, then write this process's peak RSS.

    The kernel's rusage for a child counts the parent's memory it was forked from, so
    the child reads its own high-water mark (VmHWM, reset by exec) instead.
    """

    def report() -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                Path(os.environ[RSS_ENV]).write_text(str(int(line.split()[1]) / 1024))

    if os.environ.get(RSS_ENV):
        atexit.register(report)
    from retrieval.cli import main as cli

    cli(args=sys.argv[1:], prog_name="sourced")


if __name__ == "__main__":
    main()
