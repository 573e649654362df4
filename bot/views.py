"""Buttons under an answer. Their custom ids carry everything needed to act on a click
(the stored question id and page), so they keep working after the bot restarts."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

import discord

from retrieval.errors import SourcedError
from retrieval.types import Answer

from .context import BotContext, filters_from_dict
from .render import render_answer, render_full_passages

log = logging.getLogger("sourced.bot")
EXPIRED = "This result expired — please ask again."
NONE = discord.AllowedMentions.none()


def _context(interaction: discord.Interaction) -> BotContext:
    return interaction.client.context  # type: ignore[attr-defined]


async def _answer_for(interaction: discord.Interaction, qid: str, offset: int):
    ctx = _context(interaction)
    stored = ctx.store.question(qid)
    if stored is None:
        return None
    return await asyncio.to_thread(
        ctx.service.ask, stored.question, stored.k, filters_from_dict(stored.filters), offset
    )


async def _fail(interaction: discord.Interaction, exc: Exception) -> None:
    if isinstance(exc, SourcedError):
        message = str(exc)
    else:
        log.exception("button failed (interaction %s)", interaction.id)
        message = f"Sorry, something went wrong (ref {interaction.id})."
    await interaction.followup.send(message, ephemeral=True, allowed_mentions=NONE)


async def _with_stored_answer(
    interaction: discord.Interaction,
    qid: str,
    offset: int,
    send: Callable[[Answer], Awaitable[None]],
    ephemeral: bool,
) -> None:
    """What every answer button does around its own reply: acknowledge the click at once,
    answer the stored question again at ``offset``, and turn an expired question or a
    failure into a short private message."""
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    try:
        answer = await _answer_for(interaction, qid, offset)
        if answer is None:
            await interaction.followup.send(EXPIRED, ephemeral=True)
            return
        await send(answer)
    except Exception as exc:  # noqa: BLE001 - shown to the user as a short apology
        await _fail(interaction, exc)


class MoreButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"sourced:more:(?P<qid>[0-9a-f]+):(?P<offset>\d+)"
):
    def __init__(self, qid: str, offset: int) -> None:
        self.qid, self.offset = qid, offset
        super().__init__(
            discord.ui.Button(
                label="More results", style=discord.ButtonStyle.secondary, custom_id=f"sourced:more:{qid}:{offset}"
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):
        return cls(match["qid"], int(match["offset"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        async def send(answer: Answer) -> None:
            if not answer.hits:
                await interaction.followup.send("No more passages for this question.", ephemeral=True)
                return
            reply = render_answer(answer)
            full_page = len(answer.hits) >= _context(interaction).settings.results_per_page
            view = answer_view(self.qid, self.offset, len(answer.hits), more=full_page)
            await interaction.followup.send(reply.content, embeds=reply.embeds, view=view, allowed_mentions=NONE)

        await _with_stored_answer(interaction, self.qid, self.offset, send, ephemeral=False)


class FullButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"sourced:full:(?P<qid>[0-9a-f]+):(?P<offset>\d+)"
):
    def __init__(self, qid: str, offset: int) -> None:
        self.qid, self.offset = qid, offset
        super().__init__(
            discord.ui.Button(
                label="Show full passage", style=discord.ButtonStyle.secondary, custom_id=f"sourced:full:{qid}:{offset}"
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):
        return cls(match["qid"], int(match["offset"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        async def send(answer: Answer) -> None:
            reply = render_full_passages(answer)
            await interaction.followup.send(reply.content, embeds=reply.embeds, ephemeral=True, allowed_mentions=NONE)

        await _with_stored_answer(interaction, self.qid, self.offset, send, ephemeral=True)


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
        ok = await asyncio.to_thread(ctx.store.vote, self.qid, str(interaction.user.id), self.vote == "up")
        message = "Thanks for the feedback!" if ok else EXPIRED
        await interaction.response.send_message(message, ephemeral=True)


def answer_view(qid: str, offset: int, shown: int, more: bool) -> discord.ui.View:
    """Buttons for a page of ``shown`` passages starting at ``offset``."""
    view = discord.ui.View(timeout=None)
    if more:
        view.add_item(MoreButton(qid, offset + shown))
    view.add_item(FullButton(qid, offset))
    view.add_item(VoteButton(qid, "up"))
    view.add_item(VoteButton(qid, "down"))
    return view


DYNAMIC_ITEMS = (MoreButton, FullButton, VoteButton)
