"""`/sources`, `/about` and the admin-only `/reindex`."""

from __future__ import annotations

import asyncio
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot.context import BotContext
from bot.render import escape
from bot.views import NONE

ABOUT = (
    "**sourced** answers questions from a collection of news articles. It does not write "
    "answers: it shows the articles' own words, ranked, with the sentence that best answers "
    "your question in **bold**, and a link to each source.\n\n"
    "Ask with `/ask` or by mentioning me. To cite a result, cite the linked article (title, "
    "outlet, date), not the bot. Low-confidence results are marked: check them against the source."
)


class InfoCog(commands.Cog):
    def __init__(self, bot: commands.Bot, context: BotContext) -> None:
        self.bot = bot
        self.ctx = context

    @app_commands.command(name="sources", description="What the collection holds.")
    async def sources(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        desk = self.ctx.desk_of(interaction)
        stats = await asyncio.to_thread(desk.service.stats)  # failures: the tree's error handler
        newest = stats.newest.date().isoformat() if stats.newest else "unknown"
        lines = [f"{escape(name)}: {count}" for name, count in list(stats.outlets.items())[:30]]
        if len(stats.outlets) > 30:
            lines.append(f"… and {len(stats.outlets) - 30} more outlets")
        embed = discord.Embed(
            title="What I can answer from" + (f" (collection {desk.name})" if desk.name != "default" else ""),
            description=f"**{stats.documents}** articles, **{stats.chunks}** passages, newest from {newest}.",
        )
        embed.add_field(name="Articles per outlet", value="\n".join(lines)[:1024] or "none", inline=False)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="about", description="What this bot is and how to cite it.")
    async def about(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(ABOUT, ephemeral=True)

    @app_commands.command(name="reindex", description="Re-read the collection and update the index (admins).")
    @app_commands.default_permissions(manage_guild=True)  # hidden from others in Discord's menu
    @app_commands.guild_only()
    @app_commands.checks.has_permissions(manage_guild=True)  # and refused here if shown anyway
    async def reindex(self, interaction: discord.Interaction) -> None:
        desk = self.ctx.desk_of(interaction)
        if not self.ctx.can_sync(desk):
            await interaction.response.send_message("Reindexing is not available in this bot.", ephemeral=True)
            return
        if desk.lock.locked():
            await interaction.response.send_message("A reindex is already running.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        loop = asyncio.get_running_loop()
        last = [0.0]

        def progress(text: str) -> None:
            # Called from the worker thread; at most one edit every 2 seconds.
            now = time.monotonic()
            if now - last[0] >= 2.0:
                last[0] = now
                asyncio.run_coroutine_threadsafe(interaction.edit_original_response(content=text), loop)

        async with desk.lock:
            report = await asyncio.to_thread(desk.reindex, progress)  # failures: the tree's error handler
        await self.ctx.after_sync(desk, report)
        if report.written:
            summary = (
                f"Reindexed: {report.documents} articles ({report.chunks} passages); {report.added} added, "
                f"{report.updated} updated, {report.removed} removed, {len(report.skipped)} files skipped; "
                f"{report.chunks_embedded} passages embedded in {report.seconds:.0f} s."
            )
        else:
            summary = f"Already up to date: {report.documents} articles, nothing to embed."
        await interaction.followup.send(summary, ephemeral=True)
