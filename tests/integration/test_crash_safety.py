"""SIGKILL `sourced index` at random moments: the index is never left half-written. An extra
to the deterministic crash points of test_crash_points.py (which prove where each kill lands)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from retrieval.store import FolderStore, check_index

WORDS = [
    "heron",
    "osprey",
    "stork",
    "ibis",
    "puffin",
    "gannet",
    "avocet",
    "curlew",
    "plover",
    "egret",
    "kestrel",
    "merlin",
    "dunlin",
]


def write_collection(folder, n_docs: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(exist_ok=True)
    for i in range(n_docs):
        sentences = [" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(30)]
        (folder / f"doc{i:04d}.txt").write_text(f"Survey {seed}-{i}\n\n" + " ".join(sentences) + "\n")


def index_command(folder, env):
    return [sys.executable, "-m", "retrieval.cli", "index", "--rebuild", str(folder)], env


@pytest.mark.slow
def test_sigkill_mid_index_never_corrupts(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("embedding:\n  model: hash\n")
    env = {**os.environ, "SOURCED_CONFIG": str(config), "SOURCED_INDEX_DIR": str(tmp_path / "index")}
    folder = tmp_path / "articles"
    write_collection(folder, 600, seed=0)

    started = time.perf_counter()
    subprocess.run(*index_command(folder, env)[:1], env=env, check=True, capture_output=True)
    full = time.perf_counter() - started
    store = FolderStore(tmp_path / "index")
    assert check_index(store).ok
    runner = CliRunner()
    rng = random.Random(42)
    kills = 0
    for round_ in range(20):
        # Change the collection so every run has real work to write.
        (folder / f"extra{round_}.txt").write_text(f"Extra {round_}\n\nA kestrel hovered over survey {round_}.\n")
        proc = subprocess.Popen(
            index_command(folder, env)[0], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.05, full * 1.1))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        # Whatever happened, the live index is whole and answers.
        report = check_index(store)
        assert report.ok, report.problems
        result = runner.invoke(
            main,
            ["ask", "--json", "kestrel hovered survey"],
            env={k: env[k] for k in ("SOURCED_CONFIG", "SOURCED_INDEX_DIR")},
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["hits"]
    assert kills >= 10, f"only {kills} of 20 runs were killed mid-way; the collection is too small"
    # The next run completes and leaves a consistent index with everything in it.
    subprocess.run(*index_command(folder, env)[:1], env=env, check=True, capture_output=True)
    report = check_index(store)
    assert report.ok, report.problems
    assert store.open().manifest["documents"] == 620
    assert not list(store.path.glob(".tmp-*"))
    print(f"\n{kills} of 20 index runs killed with SIGKILL (full run {full:.1f} s); index consistent after each")
