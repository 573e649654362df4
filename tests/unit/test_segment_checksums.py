"""issue 25 #15: every file of a folder-store segment has a checksum; `sourced doctor`
verifies them and names the damaged segment and file, `ask` says in one line which
segment is damaged and what to run, and a full disk says the index is unchanged."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from tests.helpers import BUNDLED, HASH_CONFIG_YAML


@pytest.fixture
def env(cli_env):
    (cli_env / "config.yaml").write_text(HASH_CONFIG_YAML + "search:\n  min_score: 0.1\n")
    return cli_env


def run(*args):
    return CliRunner().invoke(main, list(args))


def _segment(env):
    index = env / "index"
    manifest = json.loads((index / (index / "CURRENT").read_text().strip() / "manifest.json").read_text())
    (entry,) = manifest["segments"]
    return index / "segments" / entry["name"]


def _flip(path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x01
    path.write_bytes(bytes(data))


def _truncate(path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path) -> None:
    path.write_bytes(b"\x93NUMPY garbage" + b"\x00" * (path.stat().st_size - 14))


DAMAGE = [
    ("minhash.npy", _truncate, "bytes, written as"),
    ("minhash.npy", _garbage, "checksum does not match"),
    ("minhash.npy", lambda p: p.unlink(), "is missing"),
    ("meta.sqlite", _flip, "checksum does not match"),
    ("sentences.i8.npy", lambda p: _flip(p, 0.9), "checksum does not match"),
    ("vectors.f16.npy", lambda p: _flip(p, 0.9), "checksum does not match"),
    ("postings.npz", _truncate, "bytes, written as"),
]


@pytest.mark.parametrize(("file", "damage", "said"), DAMAGE)
def test_doctor_names_the_damaged_segment_and_file(env, file, damage, said):
    assert run("index", str(BUNDLED)).exit_code == 0
    ok = run("doctor")
    assert ok.exit_code == 0 and "checksums of every file of 1 segment(s) match" in ok.stdout, ok.output
    segment = _segment(env)
    damage(segment / file)
    result = run("doctor")
    assert result.exit_code == 1, result.output
    assert f"segment {segment.name}: {file}" in result.stderr and said in result.stderr
    assert "unexpected failure" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("file", "damage"), [("minhash.npy", _truncate), ("minhash.npy", lambda p: p.unlink())])
def test_ask_on_a_damaged_index_says_in_one_line_which_segment_and_what_to_run(env, file, damage):
    # Sizes are checked when the index is opened: cheap, and catches truncated and missing files.
    assert run("index", str(BUNDLED)).exit_code == 0
    segment = _segment(env)
    damage(segment / file)
    result = run("ask", "council vote facial recognition ban")
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert f"segment {segment.name}, file {file}" in line and "sourced doctor" in line and "--rebuild" in line


def test_garbage_of_the_same_size_is_named_when_read(env):
    # The hash is only checked by doctor; the load that fails still names the file.
    assert run("index", str(BUNDLED)).exit_code == 0
    segment = _segment(env)
    _garbage(segment / "minhash.npy")
    from retrieval.errors import IndexDamagedError
    from retrieval.store.folder.segment import Segment

    with pytest.raises(IndexDamagedError, match=f"segment {segment.name}, file minhash.npy"):
        _ = Segment(segment).signatures


def test_a_segment_without_checksums_stays_readable_and_doctor_says_so(env):
    assert run("index", str(BUNDLED)).exit_code == 0
    segment = _segment(env)
    info = json.loads((segment / "segment.json").read_text())
    del info["files"]  # as written by an earlier version
    (segment / "segment.json").write_text(json.dumps(info))
    index = env / "index"
    manifest_path = index / (index / "CURRENT").read_text().strip() / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["segments"][0]["checksum"]
    manifest_path.write_text(json.dumps(manifest))
    result = run("doctor")
    assert result.exit_code == 0 and "no checksums (written by an earlier version)" in result.stdout, result.output
    asked = run("ask", "--json", "council vote facial recognition ban")
    assert asked.exit_code == 0 and json.loads(asked.stdout)["hits"]


def test_a_damaged_segment_json_is_named(env):
    assert run("index", str(BUNDLED)).exit_code == 0
    segment = _segment(env)
    (segment / "segment.json").write_text("{")
    result = run("doctor")
    assert result.exit_code == 1 and f"segment {segment.name}: segment.json is damaged" in result.stderr
    asked = run("ask", "council vote")
    assert asked.exit_code == 1 and f"segment {segment.name}, file segment.json" in asked.stderr


def test_a_full_disk_while_writing_says_the_index_is_unchanged(env, monkeypatch):
    assert run("index", str(BUNDLED)).exit_code == 0
    live = (env / "index" / "CURRENT").read_text()
    import retrieval.store.folder.segment as segment_module

    real = segment_module.sqlite3.connect

    class Full:
        def __init__(self, conn):
            self.conn = conn

        def __getattr__(self, name):
            return getattr(self.conn, name)

        def executemany(self, *args):  # what SQLite says when the disk fills as it writes
            raise sqlite3.OperationalError("database or disk is full")

    folder = env / "more"
    folder.mkdir()
    (folder / "heron.txt").write_text("Heron count\n\nVolunteers counted nine grey herons at the lake.\n")
    with monkeypatch.context() as patch:
        patch.setattr(segment_module.sqlite3, "connect", lambda *a, **k: Full(real(*a, **k)))
        result = run("add", str(folder))
    assert result.exit_code == 1, result.output
    assert "database or disk is full" in result.stderr and "previous index is unchanged" in result.stderr
    assert "unexpected failure" not in result.stderr
    assert (env / "index" / "CURRENT").read_text() == live
    doctor = run("doctor")
    assert doctor.exit_code == 0, doctor.output
