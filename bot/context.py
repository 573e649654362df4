"""What the cogs share: the query service, settings, the feedback log and helpers.

Injected into the bot at start-up (as discord.py's ``advanced_startup`` example does),
so tests can build the same object around fakes without a gateway connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from discord.ext import commands

from retrieval.config import BotSettings
from retrieval.desk.feedback import FeedbackLog
from retrieval.desk.follows import Follows
from retrieval.errors import SourcedError
from retrieval.ingest.indexer import Indexer
from retrieval.ingest.report import IndexReport
from retrieval.query.ranking import Filters
from retrieval.query.service import QueryService

log = logging.getLogger("sourced.bot")


Progress = Callable[[str], None]


@dataclass
class Desk:
    """One collection as the bot serves it: its query service, how to sync it and change its
    sources (``indexer``: a fresh :class:`Indexer` over it), and its follows. Writes to one
    collection (a /reindex, /add, /remove or scheduled refresh) take turns on ``lock``."""

    name: str
    service: QueryService
    indexer: Callable[[], Indexer] | None = None
    follows: Follows | None = None
    sync: Callable[[Progress], IndexReport] | None = None  # default: indexer().run(())
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def can_write(self) -> bool:
        return self.sync is not None or self.indexer is not None

    def reindex(self, progress: Progress) -> IndexReport:
        """The same sync as `sourced index`: every registered source, feeds re-polled."""
        if self.sync is not None:
            return self.sync(progress)
        if self.indexer is None:
            raise SourcedError("Reindexing is not available in this bot.")
        from retrieval.ingest.progress import LineProgress

        return self.indexer().run((), progress=LineProgress(progress))


@dataclass
class BotContext:
    service: QueryService  # the default collection's
    settings: BotSettings
    feedback: FeedbackLog
    reindex: Callable[[Progress], IndexReport] | None = None
    refresh_minutes: float = 0.0  # scheduled refresh (web.refresh_minutes); 0: none
    desks: dict[str, Desk] = field(default_factory=dict)
    # Called after every sync that wrote (a /reindex, /add, scheduled refresh) with the
    # collection and its report: the alerts cog listens here.
    sync_listeners: list[Callable[[Desk, IndexReport], Awaitable[None]]] = field(default_factory=list)
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
        if "default" not in self.desks:
            # The default collection: its sync is whatever ``reindex`` is at call time.
            self.desks["default"] = Desk(
                "default",
                self.service,
                sync=lambda progress: self._default_reindex(progress),
                lock=self.reindex_lock,
            )

    def _default_reindex(self, progress: Progress) -> IndexReport:
        if self.reindex is None:
            raise SourcedError("Reindexing is not available in this bot.")
        return self.reindex(progress)

    async def after_sync(self, desk: Desk, report: IndexReport) -> None:
        """Tell the listeners what a sync brought; a failing listener is logged, never raised
        (a refresh or an alert that fails must not stop answers)."""
        if not getattr(report, "new_ids", ()):
            return
        for listener in list(self.sync_listeners):
            try:
                await listener(desk, report)
            except Exception:
                log.exception("after a sync of %s: a listener failed", desk.name)

    def can_sync(self, desk: Desk) -> bool:
        """Whether this bot may sync ``desk`` (the default collection only when it was
        given a reindex function)."""
        return desk.can_write and (desk.name != "default" or self.reindex is not None)

    def collection_name(self, guild_id: int | None, channel_id: int | None) -> str:
        """The collection that answers in this channel: its own entry in ``bot.collections``,
        else its server's, else the 'default' entry, else the default collection."""
        routes = self.settings.collections
        for key in (channel_id, guild_id, "default"):
            if key is not None and str(key) in routes:
                return routes[str(key)]
        return "default"

    def desk_for(self, guild_id: int | None, channel_id: int | None) -> Desk:
        name = self.collection_name(guild_id, channel_id)
        desk = self.desks.get(name)
        if desk is None:
            raise SourcedError(f"The collection '{name}' this channel is mapped to is not open in this bot.")
        return desk

    def desk_of(self, interaction: Any) -> Desk:
        return self.desk_for(interaction.guild_id, interaction.channel_id)

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
    """'2020-06-01', a full ISO date-time, '7d' or words such as 'last week' -> UTC
    datetime (retrieval.query.when); ValueError if not a date."""
    from retrieval.errors import QuestionError
    from retrieval.query.when import since_bound

    if not text:
        return None
    try:
        return since_bound(text)
    except QuestionError as exc:
        raise ValueError(str(exc)) from None
