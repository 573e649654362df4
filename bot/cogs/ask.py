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

from bot.checks import channel_enabled, per_member, question_cooldown
from bot.context import BotContext, Desk, filters_to_dict, parse_since
from bot.errors import explain
from bot.render import TIMELINE_PAGE, render_answer, render_timeline
from bot.views import NONE, answer_view, timeline_view
from retrieval.errors import SourcedError
from retrieval.query.followup import understood
from retrieval.query.ranking import Filters
from retrieval.types import Answer

log = logging.getLogger("sourced.bot")
_MENTION = re.compile(r"<@!?\d+>")
SINCE_HELP = "`since` must be a date like 2020-06-01, or 7d, or words such as `last week`."


class AskCog(commands.Cog):
    def __init__(self, bot: commands.Bot, context: BotContext) -> None:
        self.bot = bot
        self.ctx = context

    # ------------------------------------------------------------------ the shared core

    def _invalid(self, question: str) -> str | None:
        """What is wrong with the question's text (checked before any deferral), or None."""
        limit = self.ctx.settings.max_question_chars
        if not question.strip():
            return "Ask me something, e.g. `/ask who urged Amazon to stop selling Rekognition?`"
        if len(question) > limit:
            return f"That question is {len(question)} characters long; please keep it under {limit}."
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

    def _work(self, desk: Desk, question: str, k: int, filters: Filters, previous: str | None = None):
        """Search, remember the question for its buttons, render: all off the event loop.
        ``previous``: the conversation so far, when this question follows one up."""
        weight = self.ctx.settings.followup_weight
        answer = desk.service.ask(question, k, filters, previous=previous, previous_weight=weight)
        top = answer.hits[0].document.title if answer.hits else None
        stored = {**filters_to_dict(filters), "previous": previous}
        qid = self.ctx.feedback.save_question(question, k, stored, answer.answered, top)
        return answer, render_answer(answer, asked=question if previous else None), qid

    async def _reply_payload(self, desk: Desk, question: str, k: int, filters: Filters, previous: str | None = None):
        # A few searches at a time (one per core): more threads would only fight the
        # event loop for the GIL; the rest wait their turn without blocking anything.
        async with self.ctx.search_slots:
            answer, reply, qid = await asyncio.to_thread(self._work, desk, question, k, filters, previous)
        view = answer_view(qid, 0, len(answer.hits), more=len(answer.hits) >= k) if answer.hits else None
        return answer, reply, view, qid

    def _conversation(self, qid: str | None) -> str | None:
        """The conversation up to a stored question, as the next follow-up builds on it."""
        stored = self.ctx.feedback.question(qid) if qid else None
        if stored is None:
            return None
        previous = stored.filters.get("previous")
        return understood(previous, stored.question) if previous else stored.question

    # ------------------------------------------------------------------ /ask

    @app_commands.command(name="ask", description="Ask the news collection; get cited passages.")
    @app_commands.describe(
        question="Your question, e.g. who urged Amazon to stop selling Rekognition?",
        results="How many passages (1-10)",
        outlet="Only articles from this outlet",
        since="Only articles published on or after this day (YYYY-MM-DD, 7d, or words such as last week)",
    )
    @channel_enabled()
    @app_commands.checks.dynamic_cooldown(question_cooldown, key=per_member)
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 1000],
        results: app_commands.Range[int, 1, 10] | None = None,
        outlet: str | None = None,
        since: str | None = None,
    ) -> None:
        invalid = self._invalid(question)
        if invalid:
            await interaction.response.send_message(invalid, ephemeral=True)
            return
        try:
            filters = Filters(since=parse_since(since), outlet=outlet or None)
        except ValueError:
            await interaction.response.send_message(SINCE_HELP, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)  # within Discord's 3 seconds, always
        started = time.perf_counter()
        k = results or self.ctx.settings.results_per_page
        try:
            answer, reply, view, qid = await self._reply_payload(self.ctx.desk_of(interaction), question, k, filters)
        except Exception as exc:
            self._log(interaction.guild_id, interaction.channel_id, question, None, started, _kind(exc))
            raise  # to the tree's error handler (bot.errors)
        self._log(interaction.guild_id, interaction.channel_id, question, answer, started)
        kwargs = {"embeds": reply.embeds, "allowed_mentions": NONE}
        if view is not None:
            kwargs["view"] = view
        sent = await interaction.followup.send(reply.content, wait=self.ctx.settings.threads, **kwargs)
        if self.ctx.settings.threads and sent is not None and interaction.guild_id is not None:
            await self._open_thread(sent, question, qid)

    async def _open_thread(self, message, question: str, qid: str) -> None:
        """A thread under the answer, so follow-ups stay together (bot.threads)."""
        try:
            thread = await message.create_thread(name=question[:100], auto_archive_duration=1440)
        except discord.HTTPException as exc:  # no permission to create threads: answer stays
            log.warning("could not open a thread for an answer: %s", exc)
            return
        await asyncio.to_thread(self.ctx.feedback.set_thread, thread.id, qid)

    # ------------------------------------------------------------------ /timeline

    def _timeline(self, desk: Desk, question: str, filters: Filters):
        answer = desk.service.timeline(question, filters)
        top = answer.hits[0].document.title if answer.hits else None
        qid = self.ctx.feedback.save_question(
            question, len(answer.hits) or 1, filters_to_dict(filters), answer.answered, top
        )
        return answer, render_timeline(answer), qid

    @app_commands.command(name="timeline", description="The stories that answer a question, oldest first.")
    @app_commands.describe(
        question="What the stories answer, e.g. who urged Amazon to stop selling Rekognition?",
        since="Only articles published on or after this day (YYYY-MM-DD, 7d, or words such as last week)",
    )
    @channel_enabled()
    @app_commands.checks.dynamic_cooldown(question_cooldown, key=per_member)
    async def timeline(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 1000],
        since: str | None = None,
    ) -> None:
        invalid = self._invalid(question)
        if invalid:
            await interaction.response.send_message(invalid, ephemeral=True)
            return
        try:
            filters = Filters(since=parse_since(since))
        except ValueError:
            await interaction.response.send_message(SINCE_HELP, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        started = time.perf_counter()
        desk = self.ctx.desk_of(interaction)
        try:
            async with self.ctx.search_slots:
                answer, reply, qid = await asyncio.to_thread(self._timeline, desk, question, filters)
        except Exception as exc:
            self._log(interaction.guild_id, interaction.channel_id, question, None, started, _kind(exc))
            raise  # to the tree's error handler (bot.errors)
        self._log(interaction.guild_id, interaction.channel_id, question, answer, started)
        kwargs = {"embeds": reply.embeds, "allowed_mentions": NONE}
        if len(answer.hits) > TIMELINE_PAGE:
            kwargs["view"] = timeline_view(qid, TIMELINE_PAGE)
        await interaction.followup.send(reply.content, **kwargs)

    @ask.autocomplete("outlet")
    async def outlet_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            outlets = await asyncio.to_thread(self.ctx.desk_of(interaction).service.outlets)
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
        resolved = message.reference.resolved if message.reference is not None else None
        replied = resolved is not None and getattr(resolved, "author", None) == self.bot.user
        if not (mentioned or replied):
            return
        # A reply to one of the bot's answers, or a question in the thread under one,
        # continues that conversation.
        thread_qid = await asyncio.to_thread(self.ctx.feedback.thread_question, message.channel.id)
        previous_qid = (_answer_qid(resolved) if replied else None) or thread_qid
        question = " ".join(_MENTION.sub(" ", message.content).split())
        guild_id = message.guild.id if message.guild else None
        if not self.ctx.allowed(guild_id, message.channel.id):
            return
        refusal = self._invalid(question)
        if refusal is None and (wait := self.ctx.mention_cooldown(message)):
            refusal = (
                f"One question every {self.ctx.settings.cooldown_seconds:g} s, please — try again in {wait:.0f} s."
            )
        if refusal:
            await message.reply(refusal, allowed_mentions=NONE, delete_after=15)
            return
        started = time.perf_counter()
        try:
            async with message.channel.typing():
                desk = self.ctx.desk_for(guild_id, message.channel.id)
                previous = await asyncio.to_thread(self._conversation, previous_qid)
                answer, reply, view, qid = await self._reply_payload(
                    desk, question, self.ctx.settings.results_per_page, Filters(), previous
                )
        except Exception as exc:  # noqa: BLE001 - explained by the one error handler, never raised into discord.py
            self._log(guild_id, message.channel.id, question, None, started, _kind(exc))
            await message.reply(explain(exc, message.id, "answering that"), allowed_mentions=NONE)
            return
        self._log(guild_id, message.channel.id, question, answer, started)
        kwargs = {"embeds": reply.embeds, "allowed_mentions": NONE}
        if view is not None:
            kwargs["view"] = view
        await message.reply(reply.content, **kwargs)
        if thread_qid is not None:
            await asyncio.to_thread(
                self.ctx.feedback.set_thread, message.channel.id, qid
            )  # the thread goes on from here


_ANSWER_ID = re.compile(r"^sourced:(?:more|full|vote):(?P<qid>[0-9a-f]+):")


def _answer_qid(message) -> str | None:
    """The stored question behind one of the bot's answers, read from its buttons."""
    for row in getattr(message, "components", None) or ():
        for item in getattr(row, "children", ()):
            match = _ANSWER_ID.match(getattr(item, "custom_id", None) or "")
            if match:
                return match["qid"]
    return None


def _kind(exc: Exception) -> str:
    """The error's name for the question log (``internal`` for the unexpected)."""
    return type(exc).__name__ if isinstance(exc, SourcedError) else "internal"
