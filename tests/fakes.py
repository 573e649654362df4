"""Hand-written fakes of the discord.py objects the bot touches, each matching a small
Protocol of exactly what the bot uses (checked against discord.py in test_fakes)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any, Protocol, runtime_checkable

import discord
from discord import app_commands

from bot.errors import on_app_command_error

ids = itertools.count(1000)


@runtime_checkable
class ResponseLike(Protocol):
    async def defer(self, **kwargs: Any) -> Any: ...
    async def send_message(self, content: Any = None, **kwargs: Any) -> Any: ...
    def is_done(self) -> bool: ...


@runtime_checkable
class FollowupLike(Protocol):
    async def send(self, content: Any = None, **kwargs: Any) -> Any: ...


@runtime_checkable
class InteractionLike(Protocol):
    id: int
    client: Any
    user: Any
    guild_id: int | None
    channel_id: int | None
    permissions: discord.Permissions
    created_at: Any
    command: Any
    response: Any
    followup: Any

    async def edit_original_response(self, **kwargs: Any) -> Any: ...


@runtime_checkable
class MessageLike(Protocol):
    id: int
    author: Any
    mentions: list[Any]
    content: str
    guild: Any
    channel: Any
    reference: Any
    created_at: Any

    async def reply(self, content: Any = None, **kwargs: Any) -> Any: ...


class FakeResponse:
    def __init__(self, log):
        self.log = log
        self._done = False

    async def defer(self, **kwargs):
        self.log.append(("defer", kwargs))
        self._done = True

    async def send_message(self, content=None, **kwargs):
        self.log.append(("send_message", {"content": content, **kwargs}))
        self._done = True

    def is_done(self):
        return self._done


class FakeFollowup:
    def __init__(self, log):
        self.log = log

    async def send(self, content=None, **kwargs):
        self.log.append(("followup", {"content": content, **kwargs}))


class FakeInteraction:
    def __init__(self, client, user_id=None, guild_id=10, channel_id=20, manage_guild=False):
        self.log: list[tuple[str, dict]] = []
        self.id = next(ids)
        self.created_at = discord.utils.utcnow()
        self.command = None
        self.client = client
        # discord.py keeps a command's cooldowns for the process: a fresh member per interaction
        # unless a test names one, so no test is slowed by another's questions.
        self.user = SimpleNamespace(id=user_id if user_id is not None else next(ids))
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.permissions = discord.Permissions(manage_guild=manage_guild)
        self.response = FakeResponse(self.log)
        self.followup = FakeFollowup(self.log)

    async def edit_original_response(self, **kwargs):
        self.log.append(("edit", kwargs))

    def sent(self):
        return [entry for entry in self.log if entry[0] in ("followup", "send_message")]


class FakeChannel:
    def __init__(self, channel_id):
        self.id = channel_id

    def typing(self):
        class _Typing:
            async def __aenter__(self):
                return None

            async def __aexit__(self, *exc):
                return False

        return _Typing()


class FakeMessage:
    def __init__(self, client, content, author_id=None, channel_id=20, mention=True):
        self.id = next(ids)
        self.author = SimpleNamespace(id=author_id if author_id is not None else next(ids), bot=False)
        self.mentions = [client.user] if mention else []
        self.content = content
        self.guild = SimpleNamespace(id=10)
        self.channel = FakeChannel(channel_id)
        self.reference = None
        self.created_at = discord.utils.utcnow()
        self.replies: list[dict] = []

    async def reply(self, content=None, **kwargs):
        self.replies.append({"content": content, **kwargs})


async def invoke(command, cog, interaction, **options):
    """Run a slash command as discord.py's tree does: its checks, then the callback, with
    every failure handed to the bot's one error handler."""
    interaction.command = command
    try:
        if not await command._check_can_run(interaction):
            raise app_commands.CheckFailure()
        await command.callback(cog, interaction, **options)
    except app_commands.AppCommandError as exc:
        await on_app_command_error(interaction, exc)
    except Exception as exc:  # noqa: BLE001 - as the tree does: wrapped, then handled
        await on_app_command_error(interaction, app_commands.CommandInvokeError(command, exc))
    return interaction
