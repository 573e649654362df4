"""kill -9 at every point of a write where the disk is between two states, for an add (with
the merge it triggers) and for a rebuild. Each kill is proven to land where it is named:
the process marks the point, then SIGKILLs itself. After each: the live generation
answers, `sourced doctor` is clean, no stray lock blocks the next write, and the next
run completes with every article."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

# Runs the CLI with one writer step wrapped: at the named point it writes a marker, then
# SIGKILLs itself (no cleanup of any kind can run).
RUNNER = r"""
import os, signal, sys
from pathlib import Path
import retrieval.lexical as lexical
import retrieval.store.writer as writer

point, marker = os.environ["CRASH_AT"], Path(os.environ["CRASH_MARKER"])

def crash():
    marker.write_text(point)
    os.kill(os.getpid(), signal.SIGKILL)

def after(name, method):
    original = getattr(writer.IndexStore, method)
    def wrapped(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if point == name:
            crash()
        return result
    setattr(writer.IndexStore, method, wrapped)

def before(name, method):
    original = getattr(writer.IndexStore, method)
    def wrapped(self, *args, **kwargs):
        if point == name:
            crash()
        return original(self, *args, **kwargs)
    setattr(writer.IndexStore, method, wrapped)

save = lexical.Postings.save
def half_written(self, folder):
    if point == "inside-segment" and "segment" in str(folder):
        (folder / "vocabulary.json").write_text("[")  # a torn file, then the kill
        crash()
    return save(self, folder)
lexical.Postings.save = half_written
after("after-segment", "_new_segment")
after("after-merge", "_merge_group")
before("before-current", "_point_current")
before("before-prune", "_prune")

from retrieval.cli import main
main(args=sys.argv[1:], prog_name="sourced")
"""

POINTS = ["inside-segment", "after-segment", "after-merge", "before-current", "before-prune"]


def _article(folder, name, title, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"{title}\n\n{body}\n")


@pytest.fixture
def collection(tmp_path):
    env = {
        **os.environ,
        "SOURCED_CONFIG": str(tmp_path / "c.yaml"),
        "SOURCED_INDEX_DIR": str(tmp_path / "index"),
        "CRASH_MARKER": str(tmp_path / "marker"),
    }
    # merge_factor 2: the second small segment of an add completes a tier and is merged.
    (tmp_path / "c.yaml").write_text("embedding:\n  model: hash\nindex:\n  merge_factor: 2\n")
    first = tmp_path / "first"
    for i in range(3):
        _article(first, f"a{i}.txt", f"Heron count {i}", f"Volunteers counted {i + 3} grey herons at the lake.")
    second = tmp_path / "second"  # as many passages as the first: the same size tier
    for i in range(3):
        _article(second, f"b{i}.txt", f"Kestrels {i}", f"A pair of kestrels nested on roof number {i}.")
    return tmp_path, env, first, second


def sourced(env, *args, crash_at=None):
    run_env = {**env, "CRASH_AT": crash_at or "none"}
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *args], env=run_env, capture_output=True, text=True, timeout=300
    )


def _check_whole(env, tmp_path, expected_articles):
    doctor = sourced(env, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    asked = sourced(env, "ask", "--json", "herons lake count")
    assert asked.returncode == 0 and json.loads(asked.stdout)["hits"], asked.stderr
    listed = json.loads(sourced(env, "sources", "--json").stdout)
    assert len(listed["articles"]) == expected_articles


@pytest.mark.parametrize("point", POINTS)
def test_kill_during_an_add(collection, point):
    tmp_path, env, first, second = collection
    assert sourced(env, "add", str(first)).returncode == 0
    live = (tmp_path / "index" / "CURRENT").read_text()
    killed = sourced(env, "add", str(second), crash_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (tmp_path / "marker").read_text() == point  # the kill landed at this point
    switched = (tmp_path / "index" / "CURRENT").read_text() != live
    assert switched == (point == "before-prune")  # only then was the new generation live
    _check_whole(env, tmp_path, 6 if switched else 3)
    # No stray lock or half-written file blocks the next write, which completes.
    again = sourced(env, "index", str(second))
    assert again.returncode == 0, again.stderr
    _check_whole(env, tmp_path, 6)
    assert not list((tmp_path / "index").glob(".tmp-*"))


@pytest.mark.parametrize("point", ["inside-segment", "after-segment", "before-current", "before-prune"])
def test_kill_during_a_rebuild(collection, point):
    tmp_path, env, first, second = collection
    assert sourced(env, "add", str(first), str(second)).returncode == 0
    live = (tmp_path / "index" / "CURRENT").read_text()
    killed = sourced(env, "index", "--rebuild", crash_at=point)
    assert killed.returncode == -signal.SIGKILL and (tmp_path / "marker").read_text() == point
    assert ((tmp_path / "index" / "CURRENT").read_text() != live) == (point == "before-prune")
    _check_whole(env, tmp_path, 6)
    again = sourced(env, "index", "--rebuild")
    assert again.returncode == 0, again.stderr
    _check_whole(env, tmp_path, 6)


def test_kill_during_a_compaction(collection):
    tmp_path, env, first, second = collection
    (tmp_path / "c.yaml").write_text("embedding:\n  model: hash\nindex:\n  merge_factor: 50\n")  # no merge on add
    sourced(env, "add", str(first))
    sourced(env, "add", str(second))
    live = (tmp_path / "index" / "CURRENT").read_text()
    killed = sourced(env, "compact", crash_at="after-merge")
    assert killed.returncode == -signal.SIGKILL and (tmp_path / "marker").read_text() == "after-merge"
    assert (tmp_path / "index" / "CURRENT").read_text() == live
    _check_whole(env, tmp_path, 6)
    assert sourced(env, "compact").returncode == 0
    _check_whole(env, tmp_path, 6)
