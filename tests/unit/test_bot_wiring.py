"""What connects the bot to the library, tested without a gateway connection: `sourced
serve` (token, index, the real /reindex closure), the client's start-up (cogs, commands,
buttons, command sync), its translation of connection failures, outlet autocomplete and
`sourced feedback`."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import discord
import pytest
from click.testing import CliRunner

import bot.app
from bot.app import SourcedBot
from bot.cogs.ask import AskCog
from bot.cogs.desk import UnfollowButton
from bot.cogs.info import InfoCog
from bot.context import BotContext
from bot.views import FullButton, MoreButton, TimelineMoreButton, VoteButton
from retrieval.cli import main
from retrieval.config import BotSettings
from retrieval.desk.feedback import FeedbackLog
from retrieval.errors import SourcedError
from tests.fakes import FakeInteraction, invoke
from tests.helpers import BUNDLED, service_for


@pytest.fixture
def served(cli_env, tmp_path, monkeypatch):
    """Runs `sourced serve` over a copy of the bundled articles, with the Discord client
    replaced by a recorder of what it was given."""
    import shutil

    folder = tmp_path / "articles"
    shutil.copytree(BUNDLED, folder)
    assert CliRunner().invoke(main, ["add", str(folder)]).exit_code == 0
    given: dict = {}

    def fake_serve(service, settings, feedback, reindex, token, token_help="", refresh_minutes=0.0, desks=None):
        given.update(service=service, settings=settings, feedback=feedback, reindex=reindex, token=token)
        given.update(refresh_minutes=refresh_minutes, desks=desks)

    monkeypatch.setattr(bot.app, "serve", fake_serve)
    monkeypatch.setenv("DISCORD_TOKEN", "  token-from-env \n")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    return given, folder


def test_serve_hands_the_bot_the_index_settings_and_token(served):
    given, _ = served
    assert given["token"] == "token-from-env"
    assert given["service"].snapshot().manifest["documents"] == 15
    assert given["refresh_minutes"] == 30  # web.refresh_minutes, the scheduled refresh
    assert isinstance(given["feedback"], FeedbackLog)


def test_the_reindex_closure_syncs_the_registered_sources(served):
    given, folder = served
    (folder / "new.txt").write_text("Kestrels return\n\nA pair of kestrels nested on the town hall roof.\n")
    (folder / "005_83ec4c0fba5cf4b2.txt").unlink(missing_ok=True)
    progress: list[str] = []
    report = given["reindex"](progress.append)
    assert report.written and report.added == 1 and report.documents == 15 - (report.removed or 0) + 1
    assert progress  # the bot turns these lines into edits of its message
    answer = given["service"].ask("kestrels nested on the town hall roof")
    assert answer.hits[0].document.title == "Kestrels return"  # the running service sees it


def test_reindex_command_reports_the_real_sync(served):
    given, folder = served
    context = BotContext(given["service"], BotSettings(), given["feedback"], given["reindex"])
    cog = InfoCog(SimpleNamespace(context=context), context)
    (folder / "new.txt").write_text("Kestrels return\n\nA pair of kestrels nested on the town hall roof.\n")
    interaction = FakeInteraction(SimpleNamespace(context=context), manage_guild=True)
    asyncio.run(invoke(cog.reindex, cog, interaction))
    assert interaction.log[0][0] == "defer"
    final = interaction.sent()[-1][1]["content"]
    assert final.startswith("Reindexed: 16 articles") and "1 added" in final, final
    again = FakeInteraction(SimpleNamespace(context=context), manage_guild=True)
    asyncio.run(invoke(cog.reindex, cog, again))
    assert "16 articles" in again.sent()[-1][1]["content"] and "1 added" not in again.sent()[-1][1]["content"]


def test_serve_without_a_token_is_one_line(cli_env, monkeypatch, tmp_path):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 1 and result.stderr.startswith("error: DISCORD_TOKEN is not set")
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


def test_serve_reads_the_token_from_a_dot_env_file(cli_env, monkeypatch, tmp_path, bundled_index):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-dotenv\n")
    given = {}
    monkeypatch.setattr(bot.app, "serve", lambda *args, **kwargs: given.update(token=args[4]))
    result = CliRunner().invoke(main, ["serve", "--index-dir", str(bundled_index)])
    assert result.exit_code == 0, result.output
    assert given["token"] == "from-dotenv"


COMMANDS = ["about", "add", "ask", "feeds", "follow", "following", "reindex", "remove", "sources", "timeline"]


@pytest.fixture
def context(bundled_index, hash_config, tmp_path):
    service = service_for(hash_config, bundled_index)
    return BotContext(service, BotSettings(), FeedbackLog(tmp_path / "fb.sqlite"), lambda _p: None)


def _started(context, monkeypatch, dev_guild=None):
    """A SourcedBot after its setup_hook, with the command sync recorded, not sent."""
    synced: list = []

    async def fake_sync(self, *, guild=None):
        synced.append(guild.id if guild else None)
        return self.get_commands(guild=guild)

    monkeypatch.setattr(discord.app_commands.CommandTree, "sync", fake_sync)
    if dev_guild:
        context.settings = BotSettings(dev_guild=dev_guild)

    async def start():
        client = SourcedBot(context)
        await client.setup_hook()
        names = sorted(c.name for c in client.tree.get_commands())
        guild_names = sorted(c.name for c in client.tree.get_commands(guild=discord.Object(dev_guild or 1)))
        cogs = sorted(client.cogs)
        dynamic = set(client._connection._view_store._dynamic_items.values())  # discord.py's registry
        for cog in list(client.cogs):
            await client.remove_cog(cog)  # stops the refresh loop
        await client.close()
        return names, guild_names, cogs, dynamic

    return asyncio.run(start()), synced


def test_the_client_loads_every_cog_command_and_button_then_syncs_once(context, monkeypatch):
    (names, _, cogs, dynamic), synced = _started(context, monkeypatch)
    assert cogs == ["AskCog", "DeskCog", "InfoCog", "RefreshCog"]
    assert names == COMMANDS
    assert synced == [None]  # globally, once, at start-up
    assert dynamic == {MoreButton, FullButton, VoteButton, TimelineMoreButton, UnfollowButton}  # after a restart too
    assert context.settings.dev_guild is None


def test_a_dev_guild_gets_the_commands_instantly(context, monkeypatch):
    (_, guild_names, _, _), synced = _started(context, monkeypatch, dev_guild=4242)
    assert synced == [4242] and guild_names == COMMANDS


@pytest.mark.parametrize(
    "failure, says",
    [
        (discord.LoginFailure("bad token"), "Discord rejected the token in DISCORD_TOKEN. HELP"),
        (ConnectionRefusedError(111, "Connection refused"), "Cannot reach Discord (Connection refused)"),
    ],
)
def test_connection_failures_become_one_line_errors(context, monkeypatch, failure, says):
    def run(self, token, **kwargs):
        assert token == "tok"
        raise failure

    monkeypatch.setattr(SourcedBot, "run", run)
    with pytest.raises(SourcedError) as caught:
        bot.app.serve(context.service, context.settings, context.feedback, None, "tok", token_help="HELP")
    assert str(caught.value).startswith(says)


def test_outlet_autocomplete_offers_matching_outlets(context):
    cog = AskCog(SimpleNamespace(context=context, user=None), context)
    interaction = FakeInteraction(SimpleNamespace(context=context))
    outlets = context.service.outlets()
    choices = asyncio.run(cog.outlet_autocomplete(interaction, "GUARD"))
    assert [c.value for c in choices] == [o for o in outlets if "guard" in o.lower()] and choices
    everything = asyncio.run(cog.outlet_autocomplete(interaction, ""))
    assert len(everything) == min(25, len([o for o in outlets if not o.startswith("(")]))
    assert all(len(c.name) <= 100 for c in everything)
    assert asyncio.run(cog.outlet_autocomplete(interaction, "no such outlet")) == []


def test_outlet_autocomplete_without_an_index_offers_nothing(tmp_path, hash_config):
    empty = BotContext(service_for(hash_config, tmp_path / "none"), BotSettings(), FeedbackLog(tmp_path / "f"))
    cog = AskCog(SimpleNamespace(context=empty, user=None), empty)
    assert asyncio.run(cog.outlet_autocomplete(FakeInteraction(SimpleNamespace(context=empty)), "a")) == []


def test_feedback_summarises_the_votes(cli_env, tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("SOURCED_CONFIG", str(cli_env / "config.yaml"))
    (cli_env / "config.yaml").write_text(f"embedding:\n  model: hash\nbot:\n  state_dir: {state}\n")
    missing = CliRunner().invoke(main, ["feedback"])
    # Nothing recorded yet is an answer, not an error: exit 0 and one plain line.
    assert missing.exit_code == 0 and missing.stdout.startswith("No feedback yet")
    assert json.loads(CliRunner().invoke(main, ["feedback", "--json"]).stdout)["questions"] == 0
    state.mkdir()
    store = FeedbackLog(state / "feedback.sqlite")
    good = store.save_question("who urged Amazon?", 5, {}, True, "Coalition letter")
    bad = store.save_question("banana bread?", 5, {}, False, None)
    store.vote(good, "u1", True)
    store.vote(good, "u2", True)
    store.vote(bad, "u1", True)
    assert store.vote(bad, "u1", False)  # a member's second vote replaces the first
    assert not store.vote("no-such-question", "u1", True)
    store.close()
    result = CliRunner().invoke(main, ["feedback"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "2 questions asked, 1 answered; 2 👍 / 1 👎 (67% helpful)."
    assert "1 👎 0 👍  banana bread?" in result.stdout
    data = json.loads(CliRunner().invoke(main, ["feedback", "--json"]).stdout)
    assert (data["questions"], data["answered"], data["up"], data["down"]) == (2, 1, 2, 1)


def test_serve_opens_a_desk_per_collection_sharing_one_model(cli_env, tmp_path, monkeypatch):
    (cli_env / "config.yaml").write_text(
        "embedding:\n  model: hash\nbot:\n  collections:\n    '10': tech\n    '11': birds\n"
    )
    assert CliRunner().invoke(main, ["add", str(BUNDLED)]).exit_code == 0
    given = {}
    monkeypatch.setattr(bot.app, "serve", lambda *args, **kwargs: given.update(kwargs))
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    desks = given["desks"]
    assert sorted(desks) == ["birds", "default", "tech"]
    index = tmp_path / "index"
    assert desks["default"].service.store.path == index
    assert desks["tech"].service.store.path == tmp_path / "collections" / "tech"
    assert desks["tech"].follows.path == tmp_path / "collections" / "tech" / "follows.sqlite"
    assert desks["tech"].service.embedder is desks["default"].service.embedder  # one model in memory
    assert desks["default"].service.snapshot().manifest["documents"] == 15
    with pytest.raises(SourcedError, match="No index"):
        desks["tech"].service.ask("anything")  # empty until /add fills it
    # The CLI reaches the same collection by name.
    added = CliRunner().invoke(main, ["--collection", "tech", "add", str(BUNDLED / "003_dda86c09921c1694.txt")])
    assert added.exit_code == 0, added.output
    assert desks["tech"].service.snapshot().manifest["documents"] == 1
