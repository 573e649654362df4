"""The README's timeline example: the bundled articles plus the test news site's feed
(``tests/webserver.py`` on 127.0.0.1), indexed into a fresh home and asked through
``sourced timeline``, printed as the terminal shows it (the site's port as ``PORT``).

    .venv/bin/python -m benchmarks.readme_timeline ["QUESTION"]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from retrieval.paths import bundled_articles
from tests.webserver import NewsSite

SOURCED = [sys.executable, "-m", "retrieval.cli"]


def main() -> None:
    question = sys.argv[1] if len(sys.argv) > 1 else "who banned facial recognition?"
    with tempfile.TemporaryDirectory() as home, NewsSite() as site:
        env = {**os.environ, "HOME": home, "XDG_DATA_HOME": str(Path(home) / "data"), "COLUMNS": "100"}
        for source in (str(bundled_articles()), f"{site.url}/feed.xml"):
            subprocess.run([*SOURCED, "add", source], env=env, capture_output=True, check=True)
        shown = subprocess.run([*SOURCED, "timeline", question], env=env, capture_output=True, text=True, check=True)
    print(f"$ sourced timeline {question!r}")
    print(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", shown.stdout).strip())


if __name__ == "__main__":
    main()
