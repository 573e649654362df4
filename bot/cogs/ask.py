"""`/ask`, and questions asked by mentioning the bot or replying to it."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot.context import BotContext, filters_to_dict, parse_since
from bot.render import render_answer
from bot.views import NONE, answer_view
from retrieval.errors import SourcedError
from retrieval.ranking import Filters
from retrieval.types import Answer

log = logging.getLogger("sourced.bot")
_MENTION = re.compile(r"<@!?\d+>")


class AskCog(commands.Cog):
    def __init__(self, bot: commands.Bot, context: BotContext) -> None:
        self.bot = bot
        self.ctx = context

    # ------------------------------------------------------------------ the shared core

    def _refusal(self, user_id: int, guild_id: int | None, channel_id: int | None, question: str) -> str | None:
        """Why this question is not taken (cheap checks, before any deferral), or None."""
        if not self.ctx.allowed(guild_id, channel_id):
            return "I'm not enabled in this channel."
        limit = self.ctx.settings.max_question_chars
        if not question.strip():
            return "Ask me something, e.g. `/ask who urged Amazon to stop selling Rekognition?`"
        if len(question) > limit:
            return f"That question is {len(question)} characters long; please keep it under {limit}."
        wait = self.ctx.cooldown.retry_after(user_id)
        if wait > 0:
            return f"One question every {self.ctx.settings.cooldown_seconds:g} s, please — try again in {wait:.0f} s."
        return None

    def _log(
        self, guild_id, channel_id, question: str, answer: Answer | None, started: float, error: str | None = None
    ):
        log.info(
            json.dumps(
                {
                    "event": "question",
                    "guild": guild_id,
                    "channel": channel_id,
                    "question": question,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                    "hits": len(answer.hits) if answer else 0,
                    "answered": answer.answered if answer else False,
                    "error": error,
                },
                ensure_ascii=False,
            )
        )

    def _work(self, question: str, k: int, filters: Filters):
        """Search, remember the question for its buttons, render: all off the event loop."""
        answer = self.ctx.service.ask(question, k, filters)
        top = answer.hits[0].document.title if answer.hits else None
        qid = self.ctx.store.save_question(question, k, filters_to_dict(filters), answer.answered, top)
        return answer, render_answer(answer), qid

    async def _reply_payload(self, question: str, k: int, filters: Filters):
        # A few searches at a time (one per core): more threads would only fight the
        # event loop for the GIL; the rest wait their turn without blocking anything.
        async with self.ctx.search_slots:
            answer, reply, qid = await asyncio.to_thread(self._work, question, k, filters)
        view = answer_view(qid, 0, len(answer.hits), more=len(answer.hits) >= k) if answer.hits else None
        return answer, reply, view

    # ------------------------------------------------------------------ /ask

    @app_commands.command(name="ask", description="Ask the news collection; get cited passages.")
    @app_commands.describe(
        question="Your question, e.g. who urged Amazon to stop selling Rekognition?",
        results="How many passages (1-10)",
        outlet="Only articles from this outlet",
        since="Only articles published on or after this date (YYYY-MM-DD)",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 1000],
        results: app_commands.Range[int, 1, 10] | None = None,
        outlet: str | None = None,
        since: str | None = None,
    ) -> None:
        refusal = self._refusal(interaction.user.id, interaction.guild_id, interaction.channel_id, question)
        if refusal:
            await interaction.response.send_message(refusal, ephemeral=True)
            return
        try:
            filters = Filters(since=parse_since(since), outlet=outlet or None)
        except ValueError:
            await interaction.response.send_message("`since` must be a date like 2020-06-01.", ephemeral=True)
            return
        await interaction.response.defer(thinking=True)  # within Discord's 3 seconds, always
        started = time.perf_counter()
        k = results or self.ctx.settings.results_per_page
        try:
            answer, reply, view = await self._reply_payload(question, k, filters)
        except SourcedError as exc:
            self._log(interaction.guild_id, interaction.channel_id, question, None, started, type(exc).__name__)
            await interaction.followup.send(str(exc), ephemeral=True, allowed_mentions=NONE)
            return
        except Exception:
            log.exception("ask failed (interaction %s)", interaction.id)
            self._log(interaction.guild_id, interaction.channel_id, question, None, started, "internal")
            await interaction.followup.send(
                f"Sorry, something went wrong answering that (ref {interaction.id}).", ephemeral=True
            )
            return
        self._log(interaction.guild_id, interaction.channel_id, question, answer, started)
        kwargs = {"embeds": reply.embeds, "allowed_mentions": NONE}
        if view is not None:
            kwargs["view"] = view
        await interaction.followup.send(reply.content, **kwargs)

    @ask.autocomplete("outlet")
    async def outlet_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            outlets = await asyncio.to_thread(self.ctx.service.outlets)
        except SourcedError:
            return []
        current = current.lower()
        names = [o for o in outlets if not o.startswith("(") and current in o.lower()]
        return [app_commands.Choice(name=o[:100], value=o[:100]) for o in names[:25]]

    # ------------------------------------------------------------------ mentions and replies

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.bot.user is None:
            return
        mentioned = self.bot.user in message.mentions
        replied = (
            message.reference is not None
            and isinstance(message.reference.resolved, discord.Message)
            and message.reference.resolved.author == self.bot.user
        )
        if not (mentioned or replied):
            return
        question = " ".join(_MENTION.sub(" ", message.content).split())
        guild_id = message.guild.id if message.guild else None
        refusal = self._refusal(message.author.id, guild_id, message.channel.id, question)
        if refusal:
            if self.ctx.allowed(guild_id, message.channel.id):
                await message.reply(refusal, allowed_mentions=NONE, delete_after=15)
            return
        started = time.perf_counter()
        try:
            async with message.channel.typing():
                answer, reply, view = await self._reply_payload(question, self.ctx.settings.results_per_page, Filters())
        except SourcedError as exc:
            self._log(guild_id, message.channel.id, question, None, started, type(exc).__name__)
            await message.reply(str(exc), allowed_mentions=NONE)
            return
        except Exception:
            log.exception("mention failed (message %s)", message.id)
            self._log(guild_id, message.channel.id, question, None, started, "internal")
            await message.reply(
                f"Sorry, something went wrong answering that (ref {message.id}).", allowed_mentions=NONE
            )
            return
        self._log(guild_id, message.channel.id, question, answer, started)
        kwargs = {"embeds": reply.embeds, "allowed_mentions": NONE}
        if view is not None:
            kwargs["view"] = view
        await message.reply(reply.content, **kwargs)
