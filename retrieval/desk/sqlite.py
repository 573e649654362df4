"""A small SQLite file shared by the threads of one process (the bot's question log and
votes, a collection's follows): WAL mode, so readers never wait for the one writer, and
one lock around the connection, which several threads use."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class SqliteFile:
    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(schema)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
