"""scripts/setup's stamps: a full install (what `scripts/test` makes) also satisfies the
smaller one `scripts/ask` asks for, so nothing is reinstalled (issue 27, item 13)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of scripts/setup and pyproject.toml with a .venv whose python only logs."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup", tmp_path / "scripts" / "setup")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "pip.log"}\n')
    python.chmod(0o755)
    return tmp_path


def _stamp(project: Path, extras: str, content: str | None = None) -> Path:
    want = hashlib.sha256((project / "pyproject.toml").read_bytes()).hexdigest()
    stamp = project / ".venv" / f".sourced-installed-{extras}"
    stamp.write_text((content or want) + "\n")
    return stamp


def _setup(project: Path, *extras: str) -> list[str]:
    subprocess.run([str(project / "scripts" / "setup"), *extras], check=True, capture_output=True)
    log = project / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


def test_a_full_install_satisfies_the_dev_install(project):
    _stamp(project, "dev-ray-postgres-web")
    assert _setup(project) == []  # what scripts/ask runs
    assert _setup(project, "dev,web") == []
    assert _setup(project, "dev,ray,postgres,web") == []  # what scripts/test runs


def test_a_smaller_install_does_not_satisfy_a_full_one(project):
    _stamp(project, "dev")
    calls = _setup(project, "dev,ray,postgres,web")
    assert any("-e .[dev,ray,postgres,web]" in call for call in calls)
    assert (project / ".venv" / ".sourced-installed-dev-ray-postgres-web").exists()
    assert _setup(project) == calls  # now both are satisfied: nothing more is run


def test_a_changed_pyproject_reinstalls(project):
    _stamp(project, "dev-ray-postgres-web", content="0" * 64)
    assert any("-e .[dev]" in call for call in _setup(project))
