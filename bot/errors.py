"""The bot's one error handler: what a member sees when a command, a mention or a button fails.

A :class:`~retrieval.errors.SourcedError` carries a message safe to show (no index yet,
a bad question); a failed check says why (cooldown, channel, permission); anything else
is logged with its reference and shown only as a short apology with that reference.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from retrieval.errors import IndexMissingError, SourcedError

log = logging.getLogger("sourced.bot")
NONE = discord.AllowedMentions.none()
# What the apology says was going on, by command name.
_DOING = {"ask": "answering that", "reindex": "reindexing"}


class NotEnabledHere(app_commands.CheckFailure):
    """The channel or server is not in bot.allowed_channels / bot.allowed_guilds."""


def explain(error: BaseException, ref: int, doing: str | None = None) -> str:
    """The one line a member sees for ``error``; unexpected errors are logged here."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, IndexMissingError):
        # The message names a folder on the bot's machine: the operator's log gets it.
        log.warning("no index to answer from (ref %s): %s", ref, error)
        return (
            "No index to answer from here yet (or it cannot be read). A member with Manage Server "
            "can add a page or feed with `/add`; the bot's operator can check it with `sourced doctor`."
        )
    if isinstance(error, SourcedError):
        return str(error)
    if isinstance(error, NotEnabledHere):
        return "I'm not enabled in this channel."
    if isinstance(error, app_commands.CommandOnCooldown):
        per = error.cooldown.per
        return f"One question every {per:g} s, please — try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.MissingPermissions) and "manage_guild" in error.missing_permissions:
        return "Only members with Manage Server can do that."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You can't use this command here."
    log.error("failure while %s (ref %s)", doing or "handling an interaction", ref, exc_info=error)
    where = f" {doing}" if doing else ""
    return f"Sorry, something went wrong{where} (ref {ref})."


async def reply_privately(interaction: discord.Interaction, message: str) -> None:
    """Send ``message`` only to the member, whether or not the interaction was answered yet."""
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True, allowed_mentions=NONE)
    else:
        await interaction.response.send_message(message, ephemeral=True, allowed_mentions=NONE)


async def on_app_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    """``CommandTree.on_error``: every slash command's failures end here."""
    command = getattr(interaction, "command", None)
    doing = _DOING.get(getattr(command, "name", ""))
    await reply_privately(interaction, explain(error, interaction.id, doing))


class SourcedTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await on_app_command_error(interaction, error)
