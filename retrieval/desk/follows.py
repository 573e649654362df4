"""Saved questions ("follows") of a collection, and the alerts they raise when new
articles answer them.

A follow belongs to one channel of a community and lives in its collection's folder
(``follows.sqlite``, beside the index generations, so a rollback of the index does not
forget who follows what). Each alert is claimed in the store *before* it is posted: a
restart never posts the same article to the same follow twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.desk.sqlite import SqliteFile
from retrieval.errors import SourcedError
from retrieval.query.ranking import Filters
from retrieval.types import Hit

FILE = "follows.sqlite"
MAX_FOLLOWS_PER_CHANNEL = 25

_SCHEMA = """
CREATE TABLE IF NOT EXISTS follows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER, channel_id INTEGER NOT NULL, user_id INTEGER NOT NULL,
    question TEXT NOT NULL, created REAL NOT NULL,
    active INTEGER NOT NULL DEFAULT 1, disabled_reason TEXT
);
CREATE TABLE IF NOT EXISTS alerts (
    follow_id INTEGER NOT NULL, doc_id TEXT NOT NULL, channel_id INTEGER NOT NULL, sent REAL NOT NULL,
    PRIMARY KEY (follow_id, doc_id)
);
CREATE INDEX IF NOT EXISTS alerts_by_channel ON alerts (channel_id, sent);
"""


class FollowError(SourcedError):
    """A follow that cannot be saved (a duplicate, too many in the channel)."""


@dataclass(frozen=True)
class Follow:
    id: int
    guild_id: int | None
    channel_id: int
    user_id: int
    question: str
    created: float
    active: bool = True


@dataclass(frozen=True)
class Alert:
    """A new article's passage that answers a follow's question."""

    follow: Follow
    hit: Hit


class Follows(SqliteFile):
    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def follow(self, guild_id: int | None, channel_id: int, user_id: int, question: str) -> Follow:
        question = " ".join(question.split())
        with self._lock, self._conn:
            rows = self._conn.execute(
                "SELECT question FROM follows WHERE channel_id = ? AND active = 1", (channel_id,)
            ).fetchall()
            if any(r[0].casefold() == question.casefold() for r in rows):
                raise FollowError("This channel already follows that question.")
            if len(rows) >= MAX_FOLLOWS_PER_CHANNEL:
                raise FollowError(f"This channel follows {len(rows)} questions, the most it can; unfollow one first.")
            now = time.time()
            cur = self._conn.execute(
                "INSERT INTO follows (guild_id, channel_id, user_id, question, created) VALUES (?,?,?,?,?)",
                (guild_id, channel_id, user_id, question, now),
            )
        return Follow(int(cur.lastrowid or 0), guild_id, channel_id, user_id, question, now)

    def get(self, follow_id: int) -> Follow | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM follows WHERE id = ?", (follow_id,)).fetchone()
        return _follow(row) if row else None

    def unfollow(self, follow_id: int) -> bool:
        """Stop a follow; False if there was no active follow with this id."""
        with self._lock, self._conn:
            cur = self._conn.execute("UPDATE follows SET active = 0 WHERE id = ? AND active = 1", (follow_id,))
        return cur.rowcount > 0

    def disable(self, follow_id: int, reason: str) -> None:
        """Stop a follow the bot can no longer serve (channel gone, no permission)."""
        with self._lock, self._conn:
            self._conn.execute("UPDATE follows SET active = 0, disabled_reason = ? WHERE id = ?", (reason, follow_id))

    def following(self, channel_id: int) -> list[Follow]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM follows WHERE channel_id = ? AND active = 1 ORDER BY id", (channel_id,)
            ).fetchall()
        return [_follow(r) for r in rows]

    def active(self) -> list[Follow]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM follows WHERE active = 1 ORDER BY id").fetchall()
        return [_follow(r) for r in rows]

    def claim(self, follow: Follow, doc_id: str) -> bool:
        """Record that ``doc_id`` is alerted to ``follow``; False if it already was."""
        with self._lock, self._conn:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO alerts (follow_id, doc_id, channel_id, sent) VALUES (?,?,?,?)",
                (follow.id, doc_id, follow.channel_id, time.time()),
            )
        return cur.rowcount > 0

    def sent_since(self, channel_id: int, since: float) -> int:
        with self._lock:
            (n,) = self._conn.execute(
                "SELECT count(*) FROM alerts WHERE channel_id = ? AND sent >= ?", (channel_id, since)
            ).fetchone()
        return int(n)


_COLUMNS = "id, guild_id, channel_id, user_id, question, created, active"


def _follow(row: Sequence) -> Follow:
    return Follow(int(row[0]), row[1], int(row[2]), int(row[3]), row[4], float(row[5]), bool(row[6]))


def matching_alerts(service, follows: Iterable[Follow], new_ids: Iterable[str], per_follow: int = 3) -> list[Alert]:
    """For each follow, the new articles that answer its question, best first: what a
    timeline of the new articles would list (``QueryService.answering``). Nothing when the
    question, asked of them, is not answered, so an alert never brings what /ask marks
    low confidence; a name's new article is alerted when its name is shown, as /ask answers."""
    new = frozenset(new_ids)
    if not new:
        return []
    alerts = []
    for follow in follows:
        answer = service.ask(follow.question, per_follow, Filters(documents=new))
        alerts.extend(Alert(follow, hit) for hit in service.answering(answer))
    return alerts
