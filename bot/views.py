"""Buttons under an answer. Their custom ids carry everything needed to act on a click
(the stored question id and page), so they keep working after the bot restarts."""

from __future__ import annotations

import asyncio
import re

import discord

from retrieval.types import Answer

from .context import BotContext, filters_from_dict
from .errors import NONE, explain, reply_privately
from .render import TIMELINE_PAGE, render_answer, render_full_articles, render_timeline

EXPIRED = "This result expired — please ask again."


def _context(interaction: discord.Interaction) -> BotContext:
    return interaction.client.context  # type: ignore[attr-defined]


async def _answer_for(interaction: discord.Interaction, qid: str, offset: int):
    ctx = _context(interaction)
    stored = ctx.feedback.question(qid)
    if stored is None:
        return None
    return await asyncio.to_thread(
        ctx.desk_of(interaction).service.ask,
        stored.question,
        stored.k,
        filters_from_dict(stored.filters),
        offset,
        previous=stored.filters.get("previous"),
        previous_weight=ctx.settings.followup_weight,
    )


class _AnswerButton:
    """What every answer button shares: its custom id carries the stored question and page
    (so it works after a restart); a click is acknowledged at once, the stored question is
    answered again at the button's offset, and an expired question or a failure becomes a
    short private message. Subclasses (also DynamicItems) say how the answer is sent."""

    kind: str
    label: str
    ephemeral: bool

    def __init__(self, qid: str, offset: int) -> None:
        self.qid, self.offset = qid, offset
        super().__init__(  # type: ignore[call-arg] - DynamicItem.__init__, next in the subclasses' MRO
            discord.ui.Button(
                label=self.label, style=discord.ButtonStyle.secondary, custom_id=f"sourced:{self.kind}:{qid}:{offset}"
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):
        return cls(match["qid"], int(match["offset"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=self.ephemeral, thinking=True)
        try:
            answer = await _answer_for(interaction, self.qid, self.offset)
            if answer is None:
                await interaction.followup.send(EXPIRED, ephemeral=True)
                return
            await self.send(interaction, answer)
        except Exception as exc:  # noqa: BLE001 - explained by the one error handler
            await reply_privately(interaction, explain(exc, interaction.id))

    async def send(self, interaction: discord.Interaction, answer: Answer) -> None:
        raise NotImplementedError


class MoreButton(
    _AnswerButton,
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"sourced:more:(?P<qid>[0-9a-f]+):(?P<offset>\d+)",
):
    kind, label, ephemeral = "more", "More results", False

    async def send(self, interaction: discord.Interaction, answer: Answer) -> None:
        if not answer.hits:
            await interaction.followup.send("No more passages for this question.", ephemeral=True)
            return
        reply = render_answer(answer)
        full_page = len(answer.hits) >= _context(interaction).settings.results_per_page
        view = answer_view(self.qid, self.offset, len(answer.hits), more=full_page)
        await interaction.followup.send(reply.content, embeds=reply.embeds, view=view, allowed_mentions=NONE)


class FullButton(
    _AnswerButton,
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"sourced:full:(?P<qid>[0-9a-f]+):(?P<offset>\d+)",
):
    # The whole articles of the page, privately ("N more passages from this article" leads
    # here); the custom id is unchanged, so the buttons of older answers keep working.
    kind, label, ephemeral = "full", "Read in full", True

    async def send(self, interaction: discord.Interaction, answer: Answer) -> None:
        for reply in render_full_articles(answer):
            await interaction.followup.send(reply.content, embeds=reply.embeds, ephemeral=True, allowed_mentions=NONE)


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"sourced:vote:(?P<qid>[0-9a-f]+):(?P<vote>up|down)"
):
    def __init__(self, qid: str, vote: str) -> None:
        self.qid, self.vote = qid, vote
        super().__init__(
            discord.ui.Button(
                emoji="👍" if vote == "up" else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"sourced:vote:{qid}:{vote}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):
        return cls(match["qid"], match["vote"])

    async def callback(self, interaction: discord.Interaction) -> None:
        ctx = _context(interaction)
        ok = await asyncio.to_thread(ctx.feedback.vote, self.qid, str(interaction.user.id), self.vote == "up")
        message = "Thanks for the feedback!" if ok else EXPIRED
        await interaction.response.send_message(message, ephemeral=True)


class TimelineMoreButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"sourced:timeline:(?P<qid>[0-9a-f]+):(?P<offset>\d+)"
):
    """The next page of a /timeline: the stored question's timeline, built again."""

    def __init__(self, qid: str, offset: int) -> None:
        self.qid, self.offset = qid, offset
        super().__init__(
            discord.ui.Button(
                label="More stories", style=discord.ButtonStyle.secondary, custom_id=f"sourced:timeline:{qid}:{offset}"
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):
        return cls(match["qid"], int(match["offset"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        try:
            ctx = _context(interaction)
            stored = ctx.feedback.question(self.qid)
            if stored is None:
                await interaction.followup.send(EXPIRED, ephemeral=True)
                return
            service = ctx.desk_of(interaction).service
            answer = await asyncio.to_thread(service.timeline, stored.question, filters_from_dict(stored.filters))
            reply = render_timeline(answer, self.offset)
            kwargs = {"embeds": reply.embeds, "allowed_mentions": NONE}
            if len(answer.hits) > self.offset + TIMELINE_PAGE:
                kwargs["view"] = timeline_view(self.qid, self.offset + TIMELINE_PAGE)
            await interaction.followup.send(reply.content, **kwargs)
        except Exception as exc:  # noqa: BLE001 - explained by the one error handler
            await reply_privately(interaction, explain(exc, interaction.id))


def timeline_view(qid: str, offset: int) -> discord.ui.View:
    """The "More stories" button of a timeline page whose next page starts at ``offset``."""
    view = discord.ui.View(timeout=None)
    view.add_item(TimelineMoreButton(qid, offset))
    return view


def answer_view(qid: str, offset: int, shown: int, more: bool) -> discord.ui.View:
    """Buttons for a page of ``shown`` passages starting at ``offset``."""
    view = discord.ui.View(timeout=None)
    if more:
        view.add_item(MoreButton(qid, offset + shown))
    view.add_item(FullButton(qid, offset))
    view.add_item(VoteButton(qid, "up"))
    view.add_item(VoteButton(qid, "down"))
    return view


DYNAMIC_ITEMS = (MoreButton, FullButton, VoteButton, TimelineMoreButton)
