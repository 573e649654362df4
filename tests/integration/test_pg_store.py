"""What only the PostgreSQL store has: one transaction per write (a process killed inside
it leaves the previous generation whole), reads from a streaming replica, and one clear
line for each way a database can be unusable (unreachable, wrong password, no pgvector,
not a PostgreSQL URL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from retrieval.embedding import HashEmbedder
from retrieval.ingest.indexer import Indexer
from retrieval.query.service import QueryService
from retrieval.store import check_index
from retrieval.store.postgres.store import PgStore
from tests.helpers import BUNDLED, HASH_CONFIG_YAML, ROOT

pytestmark = pytest.mark.slow

# `sourced index` with the store's write wrapped: at the named point the process marks it,
# then SIGKILLs itself, inside the write's transaction (nothing is committed yet).
RUNNER = r"""
import os, signal, sys
from pathlib import Path
import retrieval.store.postgres.store as pg

point, marker = os.environ["CRASH_AT"], Path(os.environ["CRASH_MARKER"])

def crash():
    marker.write_text(point)
    os.kill(os.getpid(), signal.SIGKILL)

ensure, apply = pg.PgStore._ensure_tables, pg.PgStore._apply

def ensure_then(self, *args):
    made = ensure(self, *args)
    if point == "tables-made":
        crash()
    return made

def apply_then(self, *args):
    gen = apply(self, *args)
    if point == "all-written":  # rows copied, manifest and head written, old rows purged
        crash()
    return gen

pg.PgStore._ensure_tables, pg.PgStore._apply = ensure_then, apply_then
from retrieval.cli import main
sys.exit(main())
"""


def _cli(env: dict[str, str], *args: str, crash_at: str = "", marker=None) -> subprocess.CompletedProcess:
    full = {**os.environ, **env, "CRASH_AT": crash_at, "CRASH_MARKER": str(marker or "/dev/null")}
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *args], env=full, capture_output=True, text=True, cwd=ROOT, timeout=300
    )


@pytest.fixture
def pg_env(postgres, tmp_path):
    _, url = postgres
    config = tmp_path / "config.yaml"
    config.write_text(HASH_CONFIG_YAML)
    collection = f"c{uuid.uuid4().hex[:10]}"  # a schema of its own in the shared server
    env = {
        "SOURCED_CONFIG": str(config),
        "SOURCED_STORE": url,
        "SOURCED_COLLECTION": collection,
        "SOURCED_INDEX_DIR": str(tmp_path / "state"),
    }
    return env, PgStore(url, tmp_path / "state", schema=f"sourced_{collection}")


@pytest.mark.parametrize("point", ["tables-made", "all-written"])
def test_a_write_killed_inside_its_transaction_leaves_nothing_half_done(pg_env, tmp_path, point, hash_config):
    env, store = pg_env
    news = tmp_path / "news"
    news.mkdir()
    (news / "a.md").write_text("---\ntitle: Harbour dredging\n---\nThe harbour dredging begins in spring.\n")
    marker = tmp_path / "marker"

    first = point == "tables-made"  # the very first write (it makes the tables) is killed
    if not first:
        made = _cli(env, "add", str(BUNDLED))
        assert made.returncode == 0, made.stderr
    before = store.current_name()
    killed = _cli(env, "add", str(news), crash_at=point, marker=marker)
    assert killed.returncode == -9 and marker.read_text() == point  # the kill landed where named

    assert store.current_name() == before  # None when the first write was the one killed
    if not first:
        service = QueryService(store, HashEmbedder, hash_config.search)
        assert {h.document.title for h in service.ask("harbour dredging", k=30).hits}.isdisjoint({"Harbour dredging"})
        assert check_index(store).ok, check_index(store).problems
    # No lock outlives the killed process, and the next run brings everything.
    again = _cli(env, "add", str(news))
    assert again.returncode == 0, again.stderr
    assert {d.title for d in store.open().documents()} >= {"Harbour dredging"}
    doctor = _cli(env, "doctor")
    assert doctor.returncode == 0 and "is consistent" in doctor.stdout, doctor.stdout + doctor.stderr
    store.close()


def test_questions_can_be_read_from_a_streaming_replica(postgres, tmp_path, hash_config):
    from retrieval.store.postgres.server import LocalPostgres

    _, url = postgres
    folder = tmp_path.parent / f"replica-{uuid.uuid4().hex[:6]}"
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    replica = LocalPostgres(_public(folder), port)
    try:
        replica_url = replica.start(replica_of=url).url
        schema = f"t_{uuid.uuid4().hex[:12]}"
        primary = PgStore(url, tmp_path / "state", schema)
        Indexer(hash_config, primary, HashEmbedder()).run([BUNDLED])
        reader = PgStore(url, tmp_path / "state", schema, read_url=replica_url)
        polls = 0  # replication is asynchronous: wait (bounded) for the generation to arrive
        while reader.current_name() != primary.current_name():
            polls += 1
            assert polls < 300, "the replica never received the generation"
            time.sleep(0.1)
        service = QueryService(reader, HashEmbedder, hash_config.search)
        answer = service.ask("Which city moved to ban facial recognition?")
        assert any("Boston" in h.chunk.text for h in answer.hits[:3])
        # It was the replica that answered: the reader's own connection is to a server in recovery.
        assert reader._readers.get().execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        assert primary._readers.get().execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
        reader.close()
        primary.close()
    finally:
        replica.stop()


def _public(folder):
    import shutil
    import tempfile
    from pathlib import Path

    shutil.rmtree(folder, ignore_errors=True)
    made = Path(tempfile.mkdtemp(prefix="sourced-replica-", dir="/tmp"))
    made.chmod(0o755)
    return made / "pg"


def _one_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


def test_an_unreachable_database_is_one_line(cli_env):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    for args in (["ask", "anything"], ["index", str(BUNDLED)], ["doctor"]):
        result = CliRunner().invoke(main, ["--store", f"postgresql://sourced@127.0.0.1:{port}/sourced", *args])
        line = _one_line(result)
        assert line.startswith(f"error: Cannot connect to postgresql://sourced@127.0.0.1:{port}/sourced") or (
            "Cannot connect" in line
        ), line


def test_not_a_postgresql_url_is_one_line(cli_env):
    line = _one_line(CliRunner().invoke(main, ["--store", "mysql://root@localhost/db", "ask", "anything"]))
    assert "is not a PostgreSQL URL" in line


def test_a_wrong_password_is_one_line_without_the_password(postgres, cli_env):
    server, url = postgres
    server.psql(
        "DO $$ BEGIN CREATE ROLE guarded LOGIN PASSWORD 'right-one'; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    hba = server.data / "pg_hba.conf"
    rules = hba.read_text()
    if "guarded" not in rules:  # the role must give its password; everyone else is trusted on loopback
        hba.write_text("host all guarded 127.0.0.1/32 scram-sha-256\n" + rules)
        server.psql("SELECT pg_reload_conf()")
    port = url.rsplit(":", 1)[1].split("/")[0]
    wrong = f"postgresql://guarded:not-the-password@127.0.0.1:{port}/sourced"
    line = _one_line(CliRunner().invoke(main, ["--store", wrong, "index", str(BUNDLED)]))
    assert "password authentication failed" in line and "not-the-password" not in line and ":***@" in line
    right = CliRunner().invoke(main, ["--store", wrong.replace("not-the-password", "right-one"), "ask", "x"])
    assert "password authentication failed" not in right.stderr


def test_a_database_without_pgvector_is_one_line_before_any_embedding(postgres, cli_env):
    server, url = postgres
    server.psql("DO $$ BEGIN CREATE ROLE plain LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    if server.psql("SELECT count(*) FROM pg_database WHERE datname = 'plaindb'").strip() == "0":
        server.psql("CREATE DATABASE plaindb OWNER plain")
    port = url.rsplit(":", 1)[1].split("/")[0]
    store = f"postgresql://plain@127.0.0.1:{port}/plaindb"
    line = _one_line(CliRunner().invoke(main, ["--store", store, "index", str(BUNDLED)]))
    assert "has no pgvector extension" in line and "CREATE EXTENSION vector" in line
    asked = _one_line(CliRunner().invoke(main, ["--store", store, "ask", "anything"]))
    assert "pgvector" in asked or "No index" in asked


def test_an_index_of_the_first_layout_is_upgraded_by_the_next_sync(pg_env, hash_config):
    """Layout 1 kept postings without their passage's length and generations. Readers are
    told to run `sourced index`; that run upgrades in place (nothing is embedded again) and
    the answers are the same as before."""
    env, store = pg_env
    made = _cli(env, "add", str(BUNDLED))
    assert made.returncode == 0, made.stderr
    service = QueryService(store, HashEmbedder, hash_config.search)
    before = [(h.document.id, h.chunk.text) for h in service.ask("Which city moved to ban facial recognition?").hits]
    with store._write_connection() as conn:  # turn it back into what layout 1 wrote
        conn.execute(
            store._q(
                "DROP INDEX S.terms_lookup; ALTER TABLE S.terms DROP COLUMN length, DROP COLUMN added, "
                "DROP COLUMN removed; CREATE INDEX ON S.terms (term) INCLUDE (row, tf); "
                "UPDATE S.meta SET value = '1' WHERE key = 'layout'"
            )
        )
    fresh = PgStore(store.url, store.path, store.schema)
    asked = _cli(env, "ask", "anything")
    assert asked.returncode == 1 and "Run `sourced index` once to update it" in asked.stderr
    synced = _cli(env, "index")
    assert synced.returncode == 0, synced.stderr
    assert "0 passages and 0 sentences embedded" in synced.stderr or "nothing to embed" in synced.stderr
    again = QueryService(fresh, HashEmbedder, hash_config.search)
    after = [(h.document.id, h.chunk.text) for h in again.ask("Which city moved to ban facial recognition?").hits]
    assert after == before
    fresh.close()
    store.close()


def test_the_bot_reads_every_desk_from_the_replica_and_writes_to_the_primary(postgres, tmp_path):
    """`sourced serve` with index.store and index.read_store: each desk's questions go to
    the read store, its syncs (/reindex, /add, the refresh) to the primary, one schema per
    collection."""
    from bot.cli import open_desks
    from retrieval.config import build_config

    _, url = postgres
    config = build_config(
        {
            "embedding": {"model": "hash"},
            "index": {"store": url, "read_store": url + "?application_name=reader", "dir": str(tmp_path / "state")},
            "bot": {"collections": {"111": "ops"}},
        }
    )
    Indexer(config, PgStore(url, tmp_path / "state", "sourced"), HashEmbedder()).run([BUNDLED])
    desks = open_desks(config, None)
    assert set(desks) == {"default", "ops"}
    default, ops = desks["default"], desks["ops"]
    assert default.service.store.schema == "sourced" and ops.service.store.schema == "sourced_ops"
    assert default.service.store._readers.url.endswith("application_name=reader")
    writer = default.indexer()
    assert writer.store.kind == "postgresql" and writer.store._readers.url == url
    answer = default.service.ask("Which city moved to ban facial recognition?")
    assert any("Boston" in h.chunk.text for h in answer.hits[:3])
    for desk in desks.values():
        desk.service.store.close()


def test_readers_keep_answering_while_writer_processes_rewrite_the_database(pg_env, tmp_path, hash_config):
    """Four reader threads ask while ten separate `sourced add`/`remove` processes write new
    generations (adds, changes, removals, and generations pruned as they age). Every answer
    holds the article all generations share; any exception fails the test; reads made
    during the writes are counted, and there must be some."""
    import threading

    env, store = pg_env
    steady = tmp_path / "steady"
    steady.mkdir()
    (steady / "k.md").write_text("---\ntitle: Kestrels\n---\nThe kestrel hovered over the verge.\n")
    assert _cli(env, "add", str(steady)).returncode == 0
    service = QueryService(store, HashEmbedder, hash_config.search)
    errors: list[BaseException] = []
    counts = [[0, 0] for _ in range(4)]
    writing, stop = threading.Event(), threading.Event()

    def reader(slot: list[int]) -> None:
        try:
            while not stop.is_set():
                during = writing.is_set()
                answer = service.ask("kestrel hovered")
                assert "Kestrels" in {h.document.title for h in answer.hits}, "a generation was seen half-written"
                slot[0] += 1
                slot[1] += during and writing.is_set()
        except BaseException as exc:  # noqa: BLE001 - any exception at all fails the test
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(slot,)) for slot in counts]
    for t in threads:
        t.start()
    generations = set()
    try:
        changing = tmp_path / "changing"
        changing.mkdir()
        registered = False
        for n in range(10):
            (changing / f"n{n % 3}.md").write_text(f"---\ntitle: Note {n}\n---\nHarbour note number {n} of ten.\n")
            if n % 4 == 3:
                command, registered = ["remove", str(changing)], False
            elif registered:
                command = ["index"]  # sync what changed
            else:
                command, registered = ["add", str(changing)], True
            writing.set()
            done = _cli(env, *command)
            writing.clear()
            assert done.returncode == 0, done.stderr
            generations.add(store.current_name())
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    reads, during = sum(c[0] for c in counts), sum(c[1] for c in counts)
    print(f"\n{reads} reads, {during} of them while a writer process ran, {len(generations)} generations")
    assert during > 0 and len(generations) >= 8
    assert len(store.generations()) <= 5  # older ones were pruned while being read
    assert check_index(store).ok
    store.close()


def test_a_restarted_server_is_reconnected_to_and_a_stopped_one_is_one_error(tmp_path, hash_config):
    """The query service keeps its connections between questions. When the server restarts
    (a failover, a maintenance window) the next question reconnects once and is answered;
    while the server is down, questions get one clear error, not a traceback."""
    import socket

    from retrieval.store.postgres.server import LocalPostgres
    from retrieval.store.postgres.store import StoreError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = LocalPostgres(_public(tmp_path / "unused"), port)
    try:
        url = server.start().url
        store = PgStore(url, tmp_path / "state", "restart")
        Indexer(hash_config, store, HashEmbedder()).run([BUNDLED])
        service = QueryService(store, HashEmbedder, hash_config.search)
        question = "Which city moved to ban facial recognition?"
        first = [h.chunk.text for h in service.ask(question).hits]
        server.stop()
        server.start()  # the service's connection is now a dead one
        assert [h.chunk.text for h in service.ask(question).hits] == first
        server.stop()
        with pytest.raises(StoreError, match=r"Cannot connect to|Lost the connection"):
            service.ask(question)
        server.start()
        assert [h.chunk.text for h in service.ask(question).hits] == first
        store.close()
    finally:
        server.stop()


def test_the_hnsw_settings_reach_the_index_and_the_searches(postgres, tmp_path):
    from retrieval.config import build_config
    from retrieval.store import store_for

    _, url = postgres
    config = build_config(
        {
            "embedding": {"model": "hash"},
            "index": {"store": url, "hnsw_m": 8, "hnsw_ef_construction": 32, "hnsw_ef_search": 40},
        }
    )
    store = store_for(dataclasses_replace_collection(config, "hnswset"), tmp_path / "state")
    Indexer(config, store, HashEmbedder()).run([BUNDLED])
    conn = store._readers.get()
    definition = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = 'chunks_hnsw'", (store.schema,)
    ).fetchone()[0]
    assert "m='8'" in definition and "ef_construction='32'" in definition
    assert conn.execute("SHOW hnsw.ef_search").fetchone()[0] == "40"
    with pytest.raises(Exception, match="hnsw_ef_construction"):
        build_config({"index": {"hnsw_m": 32, "hnsw_ef_construction": 40}})
    store.close()


def dataclasses_replace_collection(config, name):
    import dataclasses

    return dataclasses.replace(config, collection=name)


def test_a_question_gives_up_on_a_stuck_statement(postgres, tmp_path, hash_config, monkeypatch):
    """Readers carry a statement timeout, so a locked or stuck server ends in one error."""
    import retrieval.store.postgres.connection as pg  # where the readers' connections are set up
    from retrieval.store.postgres.store import StoreError

    monkeypatch.setattr(pg, "READ_TIMEOUT_MS", 300)
    _, url = postgres
    store = PgStore(url, tmp_path / "state", f"t_{uuid.uuid4().hex[:12]}")
    Indexer(hash_config, store, HashEmbedder()).run([BUNDLED])
    service = QueryService(store, HashEmbedder, hash_config.search)
    assert service.ask("Which city moved to ban facial recognition?").hits
    blocker = pg.connect(url, autocommit=False)
    try:
        blocker.execute(store._q("LOCK TABLE S.meta IN ACCESS EXCLUSIVE MODE"))  # held until rollback
        with pytest.raises(StoreError, match=r"did not answer in time \(canceling statement due to statement timeout"):
            PgStore(url, tmp_path / "state", store.schema).current_name()
    finally:
        blocker.rollback()
        blocker.close()
    assert service.ask("Which city moved to ban facial recognition?").hits
    store.close()
