"""A community's desk: `/add`, `/remove` and `/feeds` change and list its collection's
sources (members with Manage Server); `/follow` and `/following` save questions for a
channel, and an alert is posted when a sync brings an article that answers one.

Long work defers first and ends in one message within Discord's limits. Alerts are
claimed in the collection's follow store before they are posted, so a restart never
repeats one; at most ``bot.alerts_per_hour`` go to a channel in any hour.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from urllib.parse import urlsplit

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import channel_enabled
from bot.context import BotContext, Desk
from bot.errors import NONE
from bot.render import escape, hit_embed
from retrieval.desk.follows import Alert, FollowError
from retrieval.errors import SourcedError

log = logging.getLogger("sourced.desk")
MESSAGE_LIMIT = 2000


def _context(interaction: discord.Interaction) -> BotContext:
    return interaction.client.context  # type: ignore[attr-defined]


def fit(lines: list[str], limit: int = MESSAGE_LIMIT) -> str:
    """Lines joined into one message of at most ``limit`` characters ("… and N more")."""
    out: list[str] = []
    used = 0
    for n, line in enumerate(lines):
        line = line if len(line) <= 300 else line[:299] + "…"
        tail = f"… and {len(lines) - n} more"
        if used + len(line) + 1 + len(tail) + 1 > limit:
            out.append(tail)
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _web_url(url: str) -> str | None:
    """Why ``url`` cannot be added from chat (not a web address), or None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Give the address of a web page, an RSS/Atom feed or a sitemap (http:// or https://)."
    return None


def report_lines(report, source: str) -> list[str]:
    """What an /add or /remove did, for a chat message."""
    lines = []
    for s in report.sources:
        name = escape(s.key)
        if s.status == "unreadable":
            kept = f"; its {s.articles} articles stay" if s.articles else "; nothing was added from it"
            lines.append(f"⚠️ {name}: {escape(s.reason or 'could not be read')}{kept}.")
        elif s.status == "duplicate":
            lines.append(f"{name}: {escape(s.reason or 'already a source')}.")
        elif s.status == "deferred":
            lines.append(f"{name}: not read, {escape(s.reason or 'left for the next sync')}.")
        elif s.status == "removed" and s.kept:
            lines.append(f"Removed {name} and {s.removed} of its articles; {s.kept} stay, held by another source.")
        elif s.status == "removed":
            lines.append(f"Removed {name} and its {s.removed} articles.")
        elif s.listed == 0 and not s.articles:
            lines.append(f"{name} ({s.kind}): no items yet; they are fetched at the next refresh.")
        else:
            lines.append(f"{name} ({s.kind}): {s.articles} articles, {s.added} new, {s.updated} changed.")
    if report.written and (report.added or report.updated):
        lines.insert(
            0, f"Added {report.added} articles, updated {report.updated}; the collection holds {report.documents}."
        )
    elif not report.sources:
        lines.append(f"Nothing changed ({source}).")
    skipped = [p for p in report.problems if p.skipped]
    if skipped:
        lines.append(f"Skipped {len(skipped)}:")
        lines += [f"• {escape(p.source)}: {escape(p.reason)}" for p in skipped]
    return lines


class UnfollowButton(discord.ui.DynamicItem[discord.ui.Button], template=r"sourced:unfollow:(?P<fid>\d+)"):
    """Under each alert: stops the follow (its author or a member with Manage Server)."""

    def __init__(self, follow_id: int) -> None:
        self.follow_id = follow_id
        super().__init__(
            discord.ui.Button(
                label="Unfollow", style=discord.ButtonStyle.secondary, custom_id=f"sourced:unfollow:{follow_id}"
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):
        return cls(int(match["fid"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        ctx = _context(interaction)
        desk = ctx.desk_of(interaction)
        follow = desk.follows.get(self.follow_id) if desk.follows else None
        if follow is None or not follow.active:
            await interaction.response.send_message("That question is no longer followed.", ephemeral=True)
            return
        if follow.user_id != interaction.user.id and not interaction.permissions.manage_guild:
            await interaction.response.send_message(
                "Only the member who followed it, or one with Manage Server, can unfollow it.", ephemeral=True
            )
            return
        await asyncio.to_thread(desk.follows.unfollow, follow.id)
        await interaction.response.send_message(f"Unfollowed: {escape(follow.question)}", ephemeral=True)


def alert_message(alert: Alert) -> tuple[str, discord.Embed, discord.ui.View]:
    content = f"🔔 New for the question this channel follows: **{escape(alert.follow.question)}**"
    embed = hit_embed(alert.hit, True)
    view = discord.ui.View(timeout=None)
    view.add_item(UnfollowButton(alert.follow.id))
    return content[:MESSAGE_LIMIT], embed, view


class DeskCog(commands.Cog):
    def __init__(self, bot: commands.Bot, context: BotContext) -> None:
        self.bot = bot
        self.ctx = context

    async def cog_load(self) -> None:
        self.ctx.sync_listeners.append(self.post_alerts)

    async def cog_unload(self) -> None:
        if self.post_alerts in self.ctx.sync_listeners:
            self.ctx.sync_listeners.remove(self.post_alerts)

    # ------------------------------------------------------------------ sources

    async def _write(self, interaction: discord.Interaction, action: str, work) -> None:
        """Defer, run ``work(indexer)`` in a thread under the collection's lock, report."""
        desk = self.ctx.desk_of(interaction)
        if desk.indexer is None:
            await interaction.response.send_message("Changing sources is not available in this bot.", ephemeral=True)
            return
        if desk.lock.locked():
            await interaction.response.send_message(
                "The collection is being updated; try again in a minute.", ephemeral=True
            )
            return
        await interaction.response.defer(thinking=True)
        async with desk.lock:
            report = await asyncio.to_thread(lambda: work(desk.indexer()))  # failures: the tree's handler
        await interaction.followup.send(fit(report_lines(report, action)), allowed_mentions=NONE)
        await self.ctx.after_sync(desk, report)

    @app_commands.command(
        name="add", description="Add a web page, RSS/Atom feed or sitemap to this server's collection."
    )
    @app_commands.describe(url="Address of an article page, a feed or a sitemap")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.checks.has_permissions(manage_guild=True)
    @channel_enabled()
    async def add(self, interaction: discord.Interaction, url: app_commands.Range[str, 1, 2000]) -> None:
        problem = _web_url(url)
        if problem:
            await interaction.response.send_message(problem, ephemeral=True)
            return
        await self._write(interaction, url, lambda indexer: indexer.add([url.strip()]))

    @app_commands.command(name="remove", description="Remove a source and its articles from this server's collection.")
    @app_commands.describe(source="The source, as /feeds lists it")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.checks.has_permissions(manage_guild=True)
    @channel_enabled()
    async def remove(self, interaction: discord.Interaction, source: app_commands.Range[str, 1, 2000]) -> None:
        await self._write(interaction, source, lambda indexer: indexer.remove([source]))

    @remove.autocomplete("source")
    async def source_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            registered, _ = await asyncio.to_thread(self.ctx.desk_of(interaction).service.collection)
        except SourcedError:
            return []
        current = current.lower()
        keys = [s.key for s in registered if current in s.key.lower() and len(s.key) <= 100]
        return [app_commands.Choice(name=k, value=k) for k in keys[:25]]

    @app_commands.command(name="feeds", description="The sources of this server's collection, with article counts.")
    @channel_enabled()
    async def feeds(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        desk = self.ctx.desk_of(interaction)
        registered, _ = await asyncio.to_thread(desk.service.collection)
        lines = [f"**{len(registered)} sources** in the collection {desk.name}:"]
        for s in registered:
            synced = s.last_sync[:16].replace("T", " ") if s.last_sync else "never"
            problem = f" ⚠️ {escape(s.problem)}" if s.problem else ""
            lines.append(f"• {escape(s.key)} ({s.kind}): {s.articles} articles, refreshed {synced}{problem}")
        await interaction.followup.send(fit(lines), ephemeral=True, allowed_mentions=NONE)

    # ------------------------------------------------------------------ follows

    @app_commands.command(name="follow", description="Post new articles that answer this question in this channel.")
    @app_commands.describe(question="e.g. Which cities banned facial recognition?")
    @app_commands.guild_only()
    @channel_enabled()
    async def follow(self, interaction: discord.Interaction, question: app_commands.Range[str, 3, 300]) -> None:
        desk = self.ctx.desk_of(interaction)
        if desk.follows is None:
            await interaction.response.send_message("Following questions is not available in this bot.", ephemeral=True)
            return
        try:
            saved = await asyncio.to_thread(
                desk.follows.follow, interaction.guild_id, interaction.channel_id, interaction.user.id, question
            )
        except FollowError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        await interaction.response.send_message(
            f"Following: **{escape(saved.question)}** — new articles that answer it will be posted here.",
            allowed_mentions=NONE,
        )

    @app_commands.command(name="following", description="The questions this channel follows.")
    @channel_enabled()
    async def following(self, interaction: discord.Interaction) -> None:
        desk = self.ctx.desk_of(interaction)
        follows = await asyncio.to_thread(desk.follows.following, interaction.channel_id) if desk.follows else []
        if not follows:
            await interaction.response.send_message(
                "This channel follows no questions. Add one with `/follow`.", ephemeral=True
            )
            return
        lines = [f"This channel follows {len(follows)} questions:"]
        lines += [f"• {escape(f.question)} (by <@{f.user_id}>)" for f in follows]
        await interaction.response.send_message(fit(lines), ephemeral=True, allowed_mentions=NONE)

    # ------------------------------------------------------------------ alerts

    async def post_alerts(self, desk: Desk, report) -> int:
        """Alerts for the articles a sync brought; returns how many were posted."""
        if desk.follows is None or not report.new_ids:
            return 0
        from retrieval.desk.follows import matching_alerts

        follows = await asyncio.to_thread(desk.follows.active)
        alerts = await asyncio.to_thread(matching_alerts, desk.service, follows, report.new_ids)
        posted = 0
        budget = self.ctx.settings.alerts_per_hour
        for alert in alerts:
            follow = alert.follow
            if await asyncio.to_thread(desk.follows.sent_since, follow.channel_id, time.time() - 3600) >= budget:
                log.info("alert dropped: channel %s had %d alerts this hour", follow.channel_id, budget)
                continue
            if not await asyncio.to_thread(desk.follows.claim, follow, alert.hit.document.id):
                continue  # already alerted (before a restart, or by an earlier sync)
            channel = self.bot.get_channel(follow.channel_id)
            try:
                if channel is None:
                    channel = await self.bot.fetch_channel(follow.channel_id)
                content, embed, view = alert_message(alert)
                await channel.send(content, embed=embed, view=view, allowed_mentions=NONE)
                posted += 1
            except (discord.NotFound, discord.Forbidden) as exc:
                reason = "channel gone" if isinstance(exc, discord.NotFound) else "missing permission"
                await asyncio.to_thread(desk.follows.disable, follow.id, reason)
                log.warning("follow %d in channel %s disabled: %s", follow.id, follow.channel_id, reason)
            except discord.HTTPException as exc:
                log.warning("alert for follow %d not posted: %s", follow.id, exc)
        if posted:
            log.info("%s: %d alerts posted", desk.name, posted)
        return posted
