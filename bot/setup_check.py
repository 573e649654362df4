"""`sourced serve --check`: the bot's set-up checked without connecting to Discord.

The token's shape (never its value), every id the ``bot.*`` settings name, the collections
the bot will serve, and the permissions its invite must grant. Where the token comes
from: the environment, else the first ``.env`` holding ``DISCORD_TOKEN`` among the current
folder, the config file's folder and the project folder (a source checkout).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import retrieval

# The bot's permissions (https://discord.com/developers/docs/topics/permissions).
PERMISSIONS = {
    "View Channels": 1 << 10,
    "Send Messages": 1 << 11,
    "Embed Links": 1 << 14,
    "Read Message History": 1 << 16,
    "Send Messages in Threads": 1 << 38,
}
THREAD_PERMISSION = ("Create Public Threads", 1 << 35)
# A bot token: the bot's id in base64, a timestamp, an HMAC; the parts separated by dots.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,40}\.[A-Za-z0-9_-]{5,10}\.[A-Za-z0-9_-]{20,60}$")
_SNOWFLAKE = re.compile(r"^\d{17,20}$")


def env_files(config_file: Path | None) -> list[Path]:
    """Where a ``.env`` is looked for, in order (each folder once)."""
    folders = [Path.cwd()]
    if config_file is not None:
        folders.append(Path(config_file).expanduser().resolve().parent)
    project = Path(retrieval.__file__).resolve().parent.parent
    if (project / "pyproject.toml").is_file():
        folders.append(project)
    seen: list[Path] = []
    for folder in folders:
        if folder.resolve() not in [f.parent for f in seen]:
            seen.append(folder.resolve() / ".env")
    return seen


def find_token(config_file: Path | None) -> tuple[str | None, str]:
    """(the token or None, where it came from: "DISCORD_TOKEN" or a .env file's path)."""
    token = (os.environ.get("DISCORD_TOKEN") or "").strip()
    if token:
        return token, "the environment (DISCORD_TOKEN)"
    from dotenv import dotenv_values

    for file in env_files(config_file):
        if file.is_file():
            token = (dotenv_values(file).get("DISCORD_TOKEN") or "").strip()
            if token:
                return token, str(file)
    return None, ""


def token_problem(token: str) -> str | None:
    if token.lower().startswith("bot "):
        return "DISCORD_TOKEN starts with 'Bot ': give the token alone."
    if not _TOKEN.match(token):
        return (
            "DISCORD_TOKEN does not look like a bot token (three parts separated by dots); copy it again "
            "from https://discord.com/developers/applications > Bot > Reset Token (not the client secret "
            "or the public key)."
        )
    if bot_id(token) is None:
        return "DISCORD_TOKEN's first part is not a bot id; copy the token again from Bot > Reset Token."
    return None


def bot_id(token: str) -> str | None:
    first = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if _SNOWFLAKE.match(decoded) else None


def permissions(threads: bool) -> tuple[list[str], int]:
    needed = dict(PERMISSIONS)
    if threads:
        needed[THREAD_PERMISSION[0]] = THREAD_PERMISSION[1]
    return list(needed), sum(needed.values())


@dataclass
class SetupCheck:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_setup(config, index_dir: Path | None) -> SetupCheck:
    """Everything `serve` needs, checked here and now, without a connection to Discord."""
    result = SetupCheck()
    bot = config.bot
    token, where = find_token(config.file)
    if token is None:
        looked = ", ".join(str(f) for f in env_files(config.file))
        result.problems.append(f"DISCORD_TOKEN is not set (not in the environment, nor in {looked}).")
    elif (problem := token_problem(token)) is not None:
        result.problems.append(f"{problem} (read from {where})")
    else:
        result.notes.append(f"token: from {where}, the shape of a bot token (bot id {bot_id(token)})")
    ids = [("bot.allowed_guilds", str(g)) for g in bot.allowed_guilds]
    ids += [("bot.allowed_channels", str(c)) for c in bot.allowed_channels]
    ids += [("bot.dev_guild", str(bot.dev_guild))] if bot.dev_guild is not None else []
    ids += [("bot.collections", key) for key in bot.collections if key != "default"]
    for setting, value in ids:
        if not _SNOWFLAKE.match(value):
            result.problems.append(
                f"{setting}: {value} is not a Discord id (17-20 digits; with Developer Mode on, right-click "
                "the server or channel > Copy ID)."
            )
    if bot.dev_guild is not None and bot.allowed_guilds and bot.dev_guild not in bot.allowed_guilds:
        result.problems.append(
            f"bot.dev_guild {bot.dev_guild} is not in bot.allowed_guilds: its commands would show there, unanswered."
        )
    _check_collections(config, index_dir, result)
    names, value = permissions(bot.threads)
    app = bot_id(token) if token else None
    invite = (
        f"https://discord.com/oauth2/authorize?client_id={app}&scope=bot+applications.commands&permissions={value}"
        if app
        else f"scopes bot and applications.commands, permissions={value}"
    )
    result.notes.append(f"permissions the invite must grant: {', '.join(names)} ({invite})")
    return result


def _check_collections(config, index_dir: Path | None, result: SetupCheck) -> None:
    from retrieval.errors import SourcedError
    from retrieval.wiring import open_store, resolve_index_dir, with_choices

    for name in sorted({"default", *config.bot.collections.values()}):
        try:
            chosen = with_choices(config, name)
            folder, _ = resolve_index_dir(chosen, index_dir if name == "default" else None)
            store = open_store(chosen, folder, reading=True)
            if store.exists():
                snap = store.open()
                result.notes.append(f"collection {name}: {len(snap.document_index())} articles in {store.where}")
            elif name == "default" and not config.index.store:
                result.notes.append("collection default: no index yet; `serve` builds it from sources.paths")
            else:
                result.notes.append(f"collection {name}: empty in {store.where}; /add fills it")
        except SourcedError as exc:
            result.problems.append(f"collection {name}: {exc}")
