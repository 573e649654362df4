"""What the cogs share: the query service, settings, the question store and helpers.

Injected into the bot at start-up (as discord.py's ``advanced_startup`` example does),
so tests can build the same object around fakes without a gateway connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from retrieval.config import BotSettings
from retrieval.feedback import FeedbackStore
from retrieval.indexer import IndexReport
from retrieval.ranking import Filters
from retrieval.service import QueryService

log = logging.getLogger("sourced.bot")


@dataclass
class Cooldown:
    """One question per ``seconds`` per user; returns how long to wait, 0 if allowed."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    _last: dict[int, float] = field(default_factory=dict)

    def retry_after(self, user_id: int) -> float:
        now = self.clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            return self.seconds - (now - last)
        self._last[user_id] = now
        if len(self._last) > 10_000:  # forget users idle for longer than the cooldown
            self._last = {u: t for u, t in self._last.items() if now - t < self.seconds}
        return 0.0


@dataclass
class BotContext:
    service: QueryService
    settings: BotSettings
    store: FeedbackStore
    reindex: Callable[[Callable[[str], None]], IndexReport] | None = None
    cooldown: Cooldown = field(init=False)
    reindex_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    search_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(max(1, os.cpu_count() or 1)))

    def __post_init__(self) -> None:
        self.cooldown = Cooldown(self.settings.cooldown_seconds)

    def allowed(self, guild_id: int | None, channel_id: int | None) -> bool:
        if self.settings.allowed_guilds and guild_id not in self.settings.allowed_guilds:
            return False
        return not (self.settings.allowed_channels and channel_id not in self.settings.allowed_channels)


def filters_to_dict(filters: Filters) -> dict[str, Any]:
    return {
        "since": filters.since.isoformat() if filters.since else None,
        "outlet": filters.outlet,
    }


def filters_from_dict(data: dict[str, Any]) -> Filters:
    since = datetime.fromisoformat(data["since"]) if data.get("since") else None
    return Filters(since=since, outlet=data.get("outlet"))


def parse_since(text: str | None) -> datetime | None:
    """'2020-06-01' (or a full ISO date-time) -> UTC datetime; ValueError if not a date."""
    if not text:
        return None
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=UTC)
