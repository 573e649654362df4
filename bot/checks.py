"""discord.py checks for the commands: channel rules and the per-member question cooldown.

Both read the injected :class:`~bot.context.BotContext` from the client, so the settings
in force apply without re-registering commands; a failed check reaches the tree's one
error handler (``bot.errors``).
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import NotEnabledHere


def _context(interaction: discord.Interaction):
    return interaction.client.context  # type: ignore[attr-defined]


def channel_enabled():
    """Only in the servers and channels that bot.allowed_guilds / allowed_channels name."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if not _context(interaction).allowed(interaction.guild_id, interaction.channel_id):
            raise NotEnabledHere()
        return True

    return app_commands.check(predicate)


def question_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    """One question per bot.cooldown_seconds per member (none when it is 0)."""
    seconds = _context(interaction).settings.cooldown_seconds
    return app_commands.Cooldown(1, seconds) if seconds > 0 else None


def per_member(interaction: discord.Interaction) -> int:
    return interaction.user.id
