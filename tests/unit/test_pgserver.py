"""The local PostgreSQL helper's file handling, without a server."""

from __future__ import annotations

import os

import pytest

from retrieval.store.postgres import server as pgserver


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")
def test_a_file_that_vanishes_mid_walk_is_skipped_and_the_rest_is_given_away(tmp_path, monkeypatch):
    (tmp_path / "data" / "pg_wal").mkdir(parents=True)
    (tmp_path / "data" / "PG_VERSION").write_text("17")
    gone = tmp_path / "data" / "pg_wal" / "xlogtemp.1"
    gone.write_text("")
    real_lstat = os.lstat

    def lstat(path, *args, **kwargs):
        # The running server removes its WAL temp file between the listing and the chown.
        if os.fspath(path) == str(gone):
            gone.unlink(missing_ok=True)
            raise FileNotFoundError(path)
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(pgserver.os, "lstat", lstat)
    pgserver._chown_tree(tmp_path, 65534, 65534)
    owners = {p.name: (real_lstat(p).st_uid, real_lstat(p).st_gid) for p in [tmp_path, *tmp_path.rglob("*")]}
    assert not gone.exists() and "xlogtemp.1" not in owners
    assert set(owners) == {tmp_path.name, "data", "pg_wal", "PG_VERSION"}
    assert set(owners.values()) == {(65534, 65534)}
