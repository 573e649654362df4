"""The scheduled refresh: every ``web.refresh_minutes``, the same sync as `/reindex` and
`sourced index` (feeds re-polled, pages re-checked, folders re-read).

It runs in a worker thread (``asyncio.to_thread``) so answers are never delayed: the
query service keeps answering from the live generation and switches to the new one when
the sync publishes it. A refresh that finds `/reindex` running is skipped, not queued.
"""

from __future__ import annotations

import asyncio
import logging

from discord.ext import commands, tasks

from bot.context import BotContext, Desk

log = logging.getLogger("sourced.refresh")


def summary(report) -> str:
    """What a sync changed, in one log line."""
    problems = len(report.skipped) + len(report.unreadable)
    if not report.written:
        return f"refresh: nothing new ({report.documents} articles; {problems} problems)"
    return (
        f"refresh: {report.added} added, {report.updated} updated, {report.removed} removed; "
        f"{report.documents} articles, {report.chunks_embedded} passages embedded in {report.seconds:.1f} s; "
        f"{problems} problems"
    )


class RefreshCog(commands.Cog):
    def __init__(self, bot: commands.Bot, ctx: BotContext, minutes: float) -> None:
        self.bot = bot
        self.ctx = ctx
        self.minutes = minutes
        self.loop = tasks.loop(minutes=max(minutes, 0.01))(self._tick)

    async def cog_load(self) -> None:
        if self.minutes > 0 and any(self._writable()):
            self.loop.start()
            log.info("refreshing %d collection(s) every %g minutes", len(self._writable()), self.minutes)

    async def cog_unload(self) -> None:
        self.loop.cancel()

    def _writable(self) -> list[Desk]:
        return [d for d in self.ctx.desks.values() if self.ctx.can_sync(d)]

    async def _tick(self) -> None:
        if self.loop.current_loop == 0:
            return  # the index was just opened: the first refresh is one interval away
        for desk in self._writable():
            await self.refresh(desk)

    async def refresh(self, desk: Desk | None = None) -> str | None:
        """One refresh of a collection (the default one if none is named) now; returns the
        log line (None when skipped or failed). New articles then raise their alerts."""
        desk = desk or self.ctx.desks["default"]
        if not self.ctx.can_sync(desk) or desk.lock.locked():
            log.info("refresh skipped: a reindex is running")
            return None
        async with desk.lock:
            try:
                report = await asyncio.to_thread(desk.reindex, lambda _text: None)
            except Exception as exc:  # noqa: BLE001 - a failed refresh must not stop the bot
                log.warning("refresh failed: %s", exc)
                return None
        line = summary(report) if desk.name == "default" else f"{desk.name}: {summary(report)}"
        for source in report.unreadable:
            log.warning("refresh: %s: %s", source.key, source.reason)
        log.info("%s", line)
        await self.ctx.after_sync(desk, report)
        return line
