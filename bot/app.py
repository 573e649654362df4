"""The Discord client: built around an injected :class:`BotContext`, run by `sourced serve`."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from retrieval.errors import SourcedError

from .cogs.ask import AskCog
from .cogs.desk import DeskCog, UnfollowButton
from .cogs.info import InfoCog
from .cogs.refresh import RefreshCog
from .context import BotContext
from .errors import SourcedTree
from .views import DYNAMIC_ITEMS

log = logging.getLogger("sourced.bot")


class SourcedBot(commands.Bot):
    def __init__(self, context: BotContext) -> None:
        intents = discord.Intents.default()  # no privileged message-content intent: mentions carry their text
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=SourcedTree,  # one error handler for every slash command (bot.errors)
        )
        self.context = context

    async def setup_hook(self) -> None:
        await self.add_cog(AskCog(self, self.context))
        await self.add_cog(InfoCog(self, self.context))
        await self.add_cog(RefreshCog(self, self.context, self.context.refresh_minutes))
        await self.add_cog(DeskCog(self, self.context))
        self.add_dynamic_items(*DYNAMIC_ITEMS, UnfollowButton)
        # Sync once at start-up (never in on_ready): instantly to a dev server if set.
        if self.context.settings.dev_guild:
            guild = discord.Object(id=self.context.settings.dev_guild)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info("synced %d application commands", len(synced))

    async def on_ready(self) -> None:
        log.info("connected as %s (%s) to %d servers", self.user, getattr(self.user, "id", "?"), len(self.guilds))


def serve(
    service,
    settings,
    feedback,
    reindex,
    token: str,
    token_help: str = "",
    refresh_minutes: float = 0.0,
    desks: dict | None = None,
) -> None:
    """Connect and answer until interrupted; connection problems become SourcedErrors."""
    # sourced never joins voice channels; discord.py's warning about voice support is noise.
    logging.getLogger("discord.client").addFilter(lambda r: "voice will NOT be supported" not in r.getMessage())
    context = BotContext(service, settings, feedback, reindex, refresh_minutes=refresh_minutes, desks=dict(desks or {}))
    if "default" in context.desks:
        context.desks["default"].lock = context.reindex_lock  # /reindex and refresh share it
    bot = SourcedBot(context)
    try:
        bot.run(token, log_handler=None)
    except discord.LoginFailure:
        raise SourcedError(f"Discord rejected the token in DISCORD_TOKEN. {token_help}") from None
    except discord.PrivilegedIntentsRequired:
        raise SourcedError(
            "Discord refused a privileged intent; sourced needs none. Check the bot's settings."
        ) from None
    except OSError as exc:  # aiohttp's connection errors are OSErrors
        raise SourcedError(
            f"Cannot reach Discord ({exc.strerror or type(exc).__name__}); check the network connection."
        ) from None
