"""Commands run by a user whose home folder cannot be written: each either works (asking
an index that lives elsewhere) or says in one line what it could not write and how to
fix it, and no traceback is shown.

HOME is made read-only for real: a read-only mount in a private mount namespace when the
tests run as root (root ignores file modes), or a folder with mode 0555 otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import BUNDLED, HASH_CONFIG_YAML, ROOT

SOURCED = [sys.executable, "-m", "retrieval.cli"]


def _read_only_runner(home):
    """A function running a command with HOME read-only, or None if this machine cannot."""
    if os.geteuid() != 0:
        home.chmod(0o555)
        return lambda cmd, env: subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=home)
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    wrap = [unshare, "-m", "sh", "-c", f'mount -t tmpfs -o ro,size=1m tmpfs "{home}" && exec "$@"', "sh"]
    probe = subprocess.run([*wrap, "touch", str(home / "x")], capture_output=True, text=True)
    if "Read-only file system" not in probe.stderr:
        return None
    return lambda cmd, env: subprocess.run([*wrap, *cmd], env=env, capture_output=True, text=True, cwd=home)


@pytest.fixture
def read_only(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    run = _read_only_runner(home)
    if run is None:
        pytest.skip("cannot make a read-only folder here (root without unshare/mount)")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
    }
    yield run, env, home
    home.chmod(0o755)


def one_line_error(result, starts):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(starts), result.stderr


def test_first_question_says_it_cannot_create_the_index(read_only, tmp_path):
    run, env, home = read_only
    (tmp_path / "c.yaml").write_text(HASH_CONFIG_YAML)
    result = run([*SOURCED, "ask", "who urged Amazon?"], {**env, "SOURCED_CONFIG": str(tmp_path / "c.yaml")})
    one_line_error(result, f"error: Cannot create the index folder {home}")


def test_an_index_elsewhere_answers_and_lists_its_sources(read_only, tmp_path):
    run, env, _ = read_only
    (tmp_path / "c.yaml").write_text(HASH_CONFIG_YAML)
    env = {**env, "SOURCED_CONFIG": str(tmp_path / "c.yaml"), "SOURCED_INDEX_DIR": str(tmp_path / "index")}
    built = subprocess.run([*SOURCED, "index", str(BUNDLED)], env={**os.environ, **env}, capture_output=True)
    assert built.returncode == 0, built.stderr
    asked = run([*SOURCED, "ask", "--json", "who urged Amazon to stop selling Rekognition?"], env)
    assert asked.returncode == 0, asked.stderr
    assert '"hits"' in asked.stdout
    listed = run([*SOURCED, "sources", "--json"], env)
    assert listed.returncode == 0 and '"articles"' in listed.stdout, listed.stderr


@pytest.mark.slow
def test_the_default_model_says_where_it_cannot_cache(read_only, tmp_path):
    run, env, home = read_only
    env = {**env, "SOURCED_INDEX_DIR": str(tmp_path / "index")}
    built = subprocess.run([*SOURCED, "index", str(BUNDLED)], env={**os.environ, **env}, capture_output=True)
    assert built.returncode == 0, built.stderr
    result = run([*SOURCED, "ask", "who urged Amazon?"], env)
    one_line_error(result, f"error: Cannot write the model cache at {home}")
    assert "SOURCED_CACHE_DIR" in result.stderr
    # The fix the message names works.
    (tmp_path / "cache").mkdir()
    fixed = run([*SOURCED, "ask", "who urged Amazon?"], {**env, "SOURCED_CACHE_DIR": str(tmp_path / "cache")})
    assert fixed.returncode == 0, fixed.stderr
