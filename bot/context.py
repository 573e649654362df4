"""What the cogs share: the query service, settings, the question store and helpers.

Injected into the bot at start-up (as discord.py's ``advanced_startup`` example does),
so tests can build the same object around fakes without a gateway connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from discord.ext import commands

from retrieval.config import BotSettings
from retrieval.feedback import FeedbackStore
from retrieval.indexer import IndexReport
from retrieval.ranking import Filters
from retrieval.service import QueryService

log = logging.getLogger("sourced.bot")


@dataclass
class BotContext:
    service: QueryService
    settings: BotSettings
    store: FeedbackStore
    reindex: Callable[[Callable[[str], None]], IndexReport] | None = None
    refresh_minutes: float = 0.0  # scheduled refresh (web.refresh_minutes); 0: none
    _mention_cooldowns: commands.CooldownMapping | None = field(init=False, default=None)
    reindex_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    search_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(max(1, os.cpu_count() or 1)))

    def __post_init__(self) -> None:
        # /ask has discord.py's own cooldown check (bot.checks); mentions are messages, not
        # interactions, so they take the same rate from discord.py's message cooldowns.
        if self.settings.cooldown_seconds > 0:
            self._mention_cooldowns = commands.CooldownMapping.from_cooldown(
                1, self.settings.cooldown_seconds, commands.BucketType.user
            )

    def mention_cooldown(self, message: Any) -> float:
        """Seconds this message's author must still wait before asking again (0: go ahead)."""
        if self._mention_cooldowns is None:
            return 0.0
        return self._mention_cooldowns.get_bucket(message).update_rate_limit() or 0.0

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
