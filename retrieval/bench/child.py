"""The measured child process of `sourced bench speed`: run the CLI, then report peak memory.

Run as ``python -m retrieval.bench.child ARGS...``. It runs the CLI by module name
(``python -m retrieval.cli``), so no module of ``retrieval.bench`` imports the CLI, which
imports them for `sourced bench`.
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys
from pathlib import Path

from retrieval.bench.timing import RSS_ENV


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
    sys.argv = ["sourced", *sys.argv[1:]]
    runpy.run_module("retrieval.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
