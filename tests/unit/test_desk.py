"""A desk per community: collections routed by server and channel, sources added and
removed from Discord, follows and their alerts (once per article, across refreshes and a
restart), through the real cog callbacks with the fakes and a news site on 127.0.0.1."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import discord
import pytest

from bot.cogs.ask import AskCog
from bot.cogs.desk import DeskCog, UnfollowButton, fit
from bot.cogs.info import InfoCog
from bot.cogs.refresh import RefreshCog
from bot.context import BotContext, Desk
from retrieval.config import BotSettings, replace
from retrieval.desk.feedback import FeedbackLog
from retrieval.desk.follows import Follows
from retrieval.embedding import HashEmbedder
from retrieval.ingest.indexer import Indexer
from retrieval.store import FolderStore
from tests.fakes import FakeInteraction, ids, invoke
from tests.helpers import BUNDLED, build, service_for
from tests.webserver import ARTICLES, NewsSite, Route, rss

NEWSROOM, BIRDERS = 10, 11  # two servers


class FakeTextChannel:
    def __init__(self, channel_id: int, fail: Exception | None = None) -> None:
        self.id = channel_id
        self.sent: list[dict] = []
        self.fail = fail

    async def send(self, content=None, **kwargs):
        if self.fail:
            raise self.fail
        self.sent.append({"content": content, **kwargs})


class FakeBot(SimpleNamespace):
    def get_channel(self, channel_id):
        return self.channels.get(channel_id)

    async def fetch_channel(self, channel_id):
        raise discord.NotFound(SimpleNamespace(status=404, reason="Not Found"), "Unknown Channel")


@pytest.fixture
def site():
    with NewsSite() as s:
        yield s


@pytest.fixture
def desk_world(tmp_path, hash_config):
    """The default collection (the bundled articles) and a 'birds' one (two bird notes),
    the birders' server mapped to 'birds'."""
    config = replace(hash_config, web={"host_delay_seconds": 0.0, "timeout_seconds": 1.0}, search={"min_score": 0.3})
    birds = tmp_path / "birds-notes"
    birds.mkdir()
    (birds / "k.txt").write_text("Kestrels nest on the church\n\nA pair of kestrels nested on the church tower.\n")
    (birds / "o.txt").write_text("Ospreys return\n\nOspreys returned to the loch for the spring.\n")

    def desk(name: str, folder, sources) -> Desk:
        build(config, folder, sources)
        return Desk(
            name,
            service_for(config, folder),
            indexer=lambda: Indexer(config, FolderStore(folder), HashEmbedder()),
            follows=Follows(folder / "follows.sqlite"),
        )

    def make(**settings):
        desks = {
            "default": desk("default", tmp_path / "idx-default", [BUNDLED]),
            "birds": desk("birds", tmp_path / "idx-birds", [birds]),
        }
        bot_settings = BotSettings(**{"cooldown_seconds": 0.0, "collections": {str(BIRDERS): "birds"}, **settings})
        ctx = BotContext(desks["default"].service, bot_settings, FeedbackLog(tmp_path / "fb.sqlite"), desks=desks)
        return ctx

    return make, config, tmp_path


def client_of(ctx, channels=()):
    return FakeBot(context=ctx, user=None, channels={c.id: c for c in channels})


def interaction(client, guild, channel=None, manage=False, user=None):
    return FakeInteraction(client, guild_id=guild, channel_id=channel or guild * 100, manage_guild=manage, user_id=user)


def test_a_question_never_gets_another_communitys_articles(desk_world):
    make, _, _ = desk_world
    ctx = make()
    client = client_of(ctx)
    cog = AskCog(client, ctx)
    birds = {d.title for d in ctx.desks["birds"].service.snapshot().documents()}
    news = {d.title for d in ctx.desks["default"].service.snapshot().documents()}
    for question in ["kestrels nested on the church tower", "facial recognition ban", "Amazon Rekognition", "spring"]:
        asked_birders = asyncio.run(invoke(cog.ask, cog, interaction(client, BIRDERS), question=question, results=5))
        asked_news = asyncio.run(invoke(cog.ask, cog, interaction(client, NEWSROOM), question=question, results=5))
        birders_titles = {e.title for e in asked_birders.sent()[0][1]["embeds"]}
        news_titles = {e.title for e in asked_news.sent()[0][1]["embeds"]}
        assert birders_titles and birders_titles <= birds, question
        assert news_titles and news_titles <= news, question


def test_a_channel_entry_wins_over_its_server_and_default_covers_the_rest(desk_world):
    make, _, _ = desk_world
    ctx = make(collections={str(BIRDERS): "birds", "777": "default", "default": "birds"})
    assert ctx.collection_name(BIRDERS, 5) == "birds"
    assert ctx.collection_name(BIRDERS, 777) == "default"  # this channel of the birders' server
    assert ctx.collection_name(NEWSROOM, 1) == "birds"  # unmapped: the 'default' entry
    assert make().collection_name(NEWSROOM, 1) == "default"


def test_sources_and_buttons_use_the_channels_collection(desk_world):
    make, _, _ = desk_world
    ctx = make()
    client = client_of(ctx)
    info = InfoCog(client, ctx)
    shown = interaction(client, BIRDERS)
    asyncio.run(invoke(info.sources, info, shown))
    assert "**2** articles" in shown.sent()[0][1]["embed"].description
    cog = AskCog(client, ctx)
    asked = asyncio.run(invoke(cog.ask, cog, interaction(client, BIRDERS), question="kestrels", results=1))
    more_id = asked.sent()[0][1]["view"].children[0].custom_id
    from bot.views import MoreButton

    more = interaction(client, BIRDERS)
    asyncio.run(MoreButton(more_id.split(":")[2], 1).callback(more))
    assert {e.title for e in more.sent()[0][1]["embeds"]} == {"Ospreys return"}


def test_add_remove_and_feeds_from_discord(desk_world, site):
    make, _, _ = desk_world
    ctx = make(allow_private_urls=True)
    ctx.desks["birds"].indexer = _indexer_for(ctx, desk_world, "birds", public_only=False)
    client = client_of(ctx)
    cog = DeskCog(client, ctx)
    added = interaction(client, BIRDERS, manage=True)
    asyncio.run(invoke(cog.add, cog, added, url=f"{site.url}/feed.xml"))
    assert added.log[0][0] == "defer"
    message = added.sent()[-1][1]["content"]
    assert message.startswith("Added 3 articles") and "(feed)" in message and len(message) <= 2000
    titles = {d.title for d in ctx.desks["birds"].service.snapshot().documents()}
    assert {t for t, _ in ARTICLES.values()} <= titles
    assert not {t for t, _ in ARTICLES.values()} & {
        d.title for d in ctx.desks["default"].service.snapshot().documents()
    }

    listed = interaction(client, BIRDERS)
    asyncio.run(invoke(cog.feeds, cog, listed))
    text = listed.sent()[0][1]["content"]
    assert "**2 sources** in the collection birds" in text and "(feed): 3 articles, refreshed" in text

    choices = asyncio.run(cog.source_autocomplete(interaction(client, BIRDERS), "XML"))
    assert [c.value for c in choices] == [f"{site.url}/feed.xml"]
    removed = interaction(client, BIRDERS, manage=True)
    asyncio.run(invoke(cog.remove, cog, removed, source=choices[0].value))
    assert f"Removed {site.url}/feed.xml and its 3 articles." in removed.sent()[-1][1]["content"]
    assert len(ctx.desks["birds"].service.snapshot().documents()) == 2


def test_add_reports_what_was_skipped_and_why(desk_world, site):
    make, _, _ = desk_world
    ctx = make()
    ctx.desks["birds"].indexer = _indexer_for(ctx, desk_world, "birds", public_only=False)
    client = client_of(ctx)
    cog = DeskCog(client, ctx)
    broken = interaction(client, BIRDERS, manage=True)
    asyncio.run(invoke(cog.add, cog, broken, url=f"{site.url}/broken"))
    assert "nothing was added from it" in broken.sent()[-1][1]["content"]
    not_web = interaction(client, BIRDERS, manage=True)
    asyncio.run(invoke(cog.add, cog, not_web, url="/etc/passwd"))
    ((kind, sent),) = not_web.sent()
    assert kind == "send_message" and sent["ephemeral"] and "http://" in sent["content"]
    assert not any(entry[0] == "defer" for entry in not_web.log)


def test_add_refuses_private_addresses_unless_allowed(desk_world, site):
    make, _, _ = desk_world
    ctx = make()  # bot.allow_private_urls is off
    ctx.desks["birds"].indexer = _indexer_for(ctx, desk_world, "birds", public_only=True)
    client = client_of(ctx)
    cog = DeskCog(client, ctx)
    refused = interaction(client, BIRDERS, manage=True)
    asyncio.run(invoke(cog.add, cog, refused, url=f"{site.url}/news/harbour-bridge-reopens"))
    assert "private or local address" in refused.sent()[-1][1]["content"]
    assert sum(site.hits.values()) == 0  # refused before any request, robots.txt included
    assert len(ctx.desks["birds"].service.snapshot().documents()) == 2


def test_only_members_with_manage_server_change_sources(desk_world):
    make, _, _ = desk_world
    ctx = make()
    client = client_of(ctx)
    cog = DeskCog(client, ctx)
    member = interaction(client, BIRDERS, manage=False)
    asyncio.run(invoke(cog.add, cog, member, url="https://example.com/feed"))
    assert "Manage Server" in member.sent()[0][1]["content"]
    remover = interaction(client, BIRDERS, manage=False)
    asyncio.run(invoke(cog.remove, cog, remover, source="anything"))
    assert "Manage Server" in remover.sent()[0][1]["content"]


def _indexer_for(ctx, desk_world, name, public_only):
    _, config, _ = desk_world
    folder = ctx.desks[name].service.store.path
    return lambda: Indexer(config, FolderStore(folder), HashEmbedder(), public_web_only=public_only)


def test_alerts_fire_once_per_article_across_refreshes_and_a_restart(desk_world, site, tmp_path):
    make, _, _ = desk_world
    ctx = make()
    ctx.desks["birds"].indexer = _indexer_for(ctx, desk_world, "birds", public_only=False)
    channel = FakeTextChannel(BIRDERS * 100)
    client = client_of(ctx, [channel])
    desk_cog = DeskCog(client, ctx)
    asyncio.run(desk_cog.cog_load())
    member = next(ids)
    followed = interaction(client, BIRDERS, user=member)
    asyncio.run(invoke(desk_cog.follow, desk_cog, followed, question="bridge reopened to traffic after repairs"))
    assert followed.sent()[0][1]["content"].startswith("Following: **bridge reopened")
    again = interaction(client, BIRDERS)
    asyncio.run(invoke(desk_cog.follow, desk_cog, again, question="Bridge reopened to traffic after  repairs"))
    assert "already follows" in again.sent()[0][1]["content"]

    # An admin adds the site's feed: its bridge article answers the follow, the others do not.
    added = interaction(client, BIRDERS, manage=True)
    asyncio.run(invoke(desk_cog.add, desk_cog, added, url=f"{site.url}/feed.xml"))
    assert len(channel.sent) == 1
    alert = channel.sent[0]
    assert alert["content"].startswith("🔔 New for the question this channel follows: **bridge reopened")
    assert alert["embed"].title == "Harbour bridge reopens after two years of repairs"
    assert alert["embed"].url.split("#")[0].endswith("/news/harbour-bridge-reopens")  # a text-fragment link
    assert alert["allowed_mentions"].to_dict() == discord.AllowedMentions.none().to_dict()
    (button,) = alert["view"].children
    assert button.custom_id.startswith("sourced:unfollow:")

    # A refresh that brings nothing new, then a restart (new stores, new cogs) and another.
    refresh = RefreshCog(client, ctx, 30)
    asyncio.run(refresh.refresh(ctx.desks["birds"]))
    restarted = make()
    restarted.desks["birds"].indexer = _indexer_for(restarted, desk_world, "birds", public_only=False)
    client2 = client_of(restarted, [channel])
    asyncio.run(DeskCog(client2, restarted).cog_load())
    asyncio.run(RefreshCog(client2, restarted, 30).refresh(restarted.desks["birds"]))
    assert len(channel.sent) == 1

    # A new article that answers it: one more alert, once.
    site.page(
        "bridge-tolls",
        "Tolls return on the harbour bridge",
        ["The harbour bridge reopened to traffic after repairs and tolls return next week."],
    )
    site.routes["/feed.xml"] = Route(
        content_type="application/rss+xml", body=rss([*ARTICLES, "bridge-tolls"], site.url).encode()
    )
    asyncio.run(RefreshCog(client2, restarted, 30).refresh(restarted.desks["birds"]))
    asyncio.run(RefreshCog(client2, restarted, 30).refresh(restarted.desks["birds"]))
    assert [a["embed"].title for a in channel.sent] == [
        "Harbour bridge reopens after two years of repairs",
        "Tolls return on the harbour bridge",
    ]

    listed = interaction(client2, BIRDERS)
    asyncio.run(invoke(DeskCog(client2, restarted).following, DeskCog(client2, restarted), listed))
    assert "bridge reopened to traffic after repairs" in listed.sent()[0][1]["content"]

    # Unfollow: not by another member, yes by its author; then no more alerts.
    follow_id = int(button.custom_id.split(":")[2])
    stranger = interaction(client2, BIRDERS)
    asyncio.run(UnfollowButton(follow_id).callback(stranger))
    assert "Only the member who followed it" in stranger.sent()[0][1]["content"]
    author = interaction(client2, BIRDERS, user=member)
    asyncio.run(UnfollowButton(follow_id).callback(author))
    assert author.sent()[0][1]["content"].startswith("Unfollowed:")
    assert restarted.desks["birds"].follows.following(BIRDERS * 100) == []


def test_alerts_keep_to_the_hourly_budget(desk_world):
    make, _, tmp_path = desk_world
    ctx = make(alerts_per_hour=1)
    channel = FakeTextChannel(BIRDERS * 100)
    client = client_of(ctx, [channel])
    cog = DeskCog(client, ctx)
    desk = ctx.desks["birds"]
    desk.follows.follow(BIRDERS, channel.id, 1, "kestrels nested on a tower")
    folder = tmp_path / "birds-notes"
    for i in range(3):
        (folder / f"new{i}.txt").write_text(f"Kestrels {i}\n\nKestrels nested on the tower number {i}.\n")
    report = desk.reindex(lambda _t: None)
    assert len(report.new_ids) == 3
    assert asyncio.run(cog.post_alerts(desk, report)) == 1 and len(channel.sent) == 1


def test_a_gone_channel_disables_its_follow_and_answers_go_on(desk_world, caplog):
    make, _, tmp_path = desk_world
    ctx = make()
    forbidden = FakeTextChannel(
        555, fail=discord.Forbidden(SimpleNamespace(status=403, reason="Forbidden"), "Missing Access")
    )
    client = client_of(ctx, [forbidden])
    cog = DeskCog(client, ctx)
    desk = ctx.desks["birds"]
    gone = desk.follows.follow(BIRDERS, 444, 1, "kestrels nested on a tower")  # not in the client: NotFound
    barred = desk.follows.follow(BIRDERS, 555, 1, "kestrels nested on a tower")
    (tmp_path / "birds-notes" / "n.txt").write_text("Kestrels again\n\nKestrels nested on the tower again.\n")
    report = desk.reindex(lambda _t: None)
    assert asyncio.run(cog.post_alerts(desk, report)) == 0
    assert desk.follows.get(gone.id).active is False and desk.follows.get(barred.id).active is False
    assert "channel gone" in caplog.text and "missing permission" in caplog.text
    ask = AskCog(client, ctx)
    asked = asyncio.run(invoke(ask.ask, ask, interaction(client, BIRDERS), question="kestrels"))
    assert asked.sent()[0][1]["embeds"]


def test_a_failing_alert_listener_never_stops_a_reindex(desk_world, caplog):
    make, _, tmp_path = desk_world
    ctx = make()

    async def broken(desk, report):
        raise RuntimeError("alert store on fire")

    ctx.sync_listeners.append(broken)
    client = client_of(ctx)
    (tmp_path / "birds-notes" / "n.txt").write_text("Kestrels again\n\nKestrels nested on the tower again.\n")
    info = InfoCog(client, ctx)
    done = interaction(client, BIRDERS, manage=True)
    asyncio.run(invoke(info.reindex, info, done))
    assert done.sent()[-1][1]["content"].startswith("Reindexed: 3 articles")
    assert "alert store on fire" in caplog.text


def test_fit_keeps_a_message_within_discords_limit():
    lines = [f"line {i} " + "x" * 80 for i in range(100)]
    text = fit(lines)
    assert len(text) <= 2000 and text.endswith("more") and text.startswith("line 0")
    assert fit(["short"]) == "short"


def test_reindex_fires_alerts_too(desk_world):
    make, _, tmp_path = desk_world
    ctx = make()
    channel = FakeTextChannel(BIRDERS * 100)
    client = client_of(ctx, [channel])
    desk_cog = DeskCog(client, ctx)
    asyncio.run(desk_cog.cog_load())  # listens to every sync the bot makes
    ctx.desks["birds"].follows.follow(BIRDERS, channel.id, 1, "kestrels nested on a tower")
    (tmp_path / "birds-notes" / "t.txt").write_text("Kestrels on the tower\n\nKestrels nested on the old tower.\n")
    info = InfoCog(client, ctx)
    done = interaction(client, BIRDERS, manage=True)
    asyncio.run(invoke(info.reindex, info, done))
    assert done.sent()[-1][1]["content"].startswith("Reindexed: 3 articles")
    assert [a["embed"].title for a in channel.sent] == ["Kestrels on the tower"]
    again = interaction(client, BIRDERS, manage=True)
    asyncio.run(invoke(info.reindex, info, again))  # nothing new: no second alert
    assert len(channel.sent) == 1


def test_add_of_a_feed_with_one_missing_item_names_it_indexes_the_rest_and_alerts(desk_world, site):
    # Issue 25 #9: one skipped item made /add answer "Sorry, something went wrong" (the
    # reply named Problem.path, which does not exist) and no alert was posted.
    make, _, _ = desk_world
    ctx = make()
    ctx.desks["birds"].indexer = _indexer_for(ctx, desk_world, "birds", public_only=False)
    channel = FakeTextChannel(BIRDERS * 100)
    client = client_of(ctx, [channel])
    cog = DeskCog(client, ctx)
    asyncio.run(cog.cog_load())
    ctx.desks["birds"].follows.follow(BIRDERS, channel.id, 1, "bridge reopened to traffic after repairs")
    site.routes["/one-missing.xml"] = Route(
        content_type="application/rss+xml", body=rss([*ARTICLES, "gone-story"], site.url).encode()
    )
    added = interaction(client, BIRDERS, manage=True)
    asyncio.run(invoke(cog.add, cog, added, url=f"{site.url}/one-missing.xml"))
    message = added.sent()[-1][1]["content"]
    assert message.startswith("Added 3 articles") and "something went wrong" not in message
    assert f"Skipped 1:\n• {site.url}/news/gone-story: HTTP 404" in message
    titles = {d.title for d in ctx.desks["birds"].service.snapshot().documents()}
    assert {t for t, _ in ARTICLES.values()} <= titles
    assert [a["embed"].title for a in channel.sent] == ["Harbour bridge reopens after two years of repairs"]
