"""A small local store of asked questions and the 👍/👎 votes on their answers.

The bot saves each question so its buttons ("More results", feedback) keep working
after a restart, and records votes here; `sourced feedback` summarises them. SQLite in
WAL mode: many readers, one writer at a time, safe across threads.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.desk.sqlite import SqliteFile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    qid TEXT PRIMARY KEY, question TEXT NOT NULL, k INTEGER NOT NULL, filters TEXT NOT NULL,
    answered INTEGER NOT NULL, top_title TEXT, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS threads (
    thread_id INTEGER PRIMARY KEY, qid TEXT NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    qid TEXT NOT NULL, voter TEXT NOT NULL, vote INTEGER NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (qid, voter)
);
"""


@dataclass(frozen=True)
class StoredQuestion:
    qid: str
    question: str
    k: int
    filters: dict[str, Any]


@dataclass(frozen=True)
class FeedbackSummary:
    questions: int
    answered: int
    up: int
    down: int
    worst: list[tuple[str, int, int]]  # (question, up, down), most disliked first


class FeedbackLog(SqliteFile):
    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def save_question(
        self, question: str, k: int, filters: dict[str, Any], answered: bool, top_title: str | None
    ) -> str:
        qid = secrets.token_hex(6)
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO questions VALUES (?,?,?,?,?,?,?)",
                (qid, question, k, json.dumps(filters), int(answered), top_title, time.time()),
            )
        return qid

    def question(self, qid: str) -> StoredQuestion | None:
        with self._lock:
            row = self._conn.execute("SELECT qid, question, k, filters FROM questions WHERE qid = ?", (qid,)).fetchone()
        if row is None:
            return None
        return StoredQuestion(row[0], row[1], row[2], json.loads(row[3]))

    def set_thread(self, thread_id: int, qid: str) -> None:
        """The latest question of a conversation thread (the next follow-up builds on it)."""
        with self._lock, self._conn:
            self._conn.execute("INSERT OR REPLACE INTO threads VALUES (?,?,?)", (thread_id, qid, time.time()))

    def thread_question(self, thread_id: int) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT qid FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
        return row[0] if row else None

    def vote(self, qid: str, voter: str, up: bool) -> bool:
        """Record (or change) one voter's vote; False if the question is unknown."""
        with self._lock, self._conn:
            if self._conn.execute("SELECT 1 FROM questions WHERE qid = ?", (qid,)).fetchone() is None:
                return False
            self._conn.execute(
                "INSERT OR REPLACE INTO votes VALUES (?,?,?,?)", (qid, voter, 1 if up else -1, time.time())
            )
        return True

    def summary(self, worst: int = 10) -> FeedbackSummary:
        with self._lock:
            questions, answered = self._conn.execute(
                "SELECT count(*), coalesce(sum(answered), 0) FROM questions"
            ).fetchone()
            up, down = self._conn.execute(
                "SELECT coalesce(sum(vote = 1), 0), coalesce(sum(vote = -1), 0) FROM votes"
            ).fetchone()
            rows = self._conn.execute(
                "SELECT q.question, sum(v.vote = 1), sum(v.vote = -1) FROM votes v JOIN questions q USING (qid) "
                "GROUP BY v.qid HAVING sum(v.vote = -1) > 0 ORDER BY sum(v.vote) ASC, max(v.created) DESC LIMIT ?",
                (worst,),
            ).fetchall()
        return FeedbackSummary(questions, answered, up, down, [(r[0], r[1], r[2]) for r in rows])
