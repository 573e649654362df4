"""The Discord layer, driven through the real cog callbacks with hand-written fakes.

No gateway connection is ever opened: interactions are small fakes that record what
the bot sent (dpytest cannot drive slash commands)."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import discord
import pytest

from bot.cogs.ask import AskCog
from bot.cogs.info import InfoCog
from bot.context import BotContext
from bot.render import escape
from bot.views import FullButton, MoreButton, VoteButton
from retrieval.config import BotSettings, replace
from retrieval.desk.feedback import FeedbackLog
from tests.fakes import FakeInteraction, FakeMessage, invoke
from tests.fakes import ids as _ids
from tests.helpers import service_for


@pytest.fixture
def make_context(tmp_path, bundled_index, hash_config):
    def make(service=None, **bot_settings):
        settings = BotSettings(**{"cooldown_seconds": 5.0, **bot_settings})
        service = service or service_for(replace(hash_config, search={"min_score": 0.1}), bundled_index)
        return BotContext(service, settings, FeedbackLog(tmp_path / f"fb{next(_ids)}.sqlite"))

    return make


def cog_and_client(context):
    client = SimpleNamespace(context=context, user=None)
    return AskCog(client, context), client


async def ask(cog, client, question, **kwargs):
    interaction = FakeInteraction(
        client, **{k: v for k, v in kwargs.items() if k in ("user_id", "guild_id", "channel_id")}
    )
    options = {k: v for k, v in kwargs.items() if k in ("results", "outlet", "since")}
    return await invoke(cog.ask, cog, interaction, question=question, **options)


def test_success_defers_then_sends_embeds_with_buttons(make_context):
    cog, client = cog_and_client(make_context())
    interaction = asyncio.run(ask(cog, client, "Electronic Frontier Foundation coalition members"))
    assert interaction.log[0][0] == "defer"
    ((kind, sent),) = interaction.sent()
    assert kind == "followup"
    assert sent["content"].startswith("**Q:** Electronic Frontier Foundation")
    assert 1 <= len(sent["embeds"]) <= 3
    assert sent["allowed_mentions"].to_dict() == discord.AllowedMentions.none().to_dict()
    ids = [item.custom_id for item in sent["view"].children]
    assert [i.split(":")[1] for i in ids] == ["more", "full", "vote", "vote"]
    assert "**" in sent["embeds"][0].description  # answer sentence in bold


def test_no_answer_says_so_honestly(make_context, bundled_index, hash_config):
    strict = service_for(replace(hash_config, search={"min_score": 0.99}), bundled_index)
    cog, client = cog_and_client(make_context(service=strict))
    interaction = asyncio.run(ask(cog, client, "banana bread recipe"))
    ((_, sent),) = interaction.sent()
    assert "I couldn't find this in the collection" in sent["content"]
    assert all("low confidence" in e.footer.text for e in sent["embeds"])


def test_cooldown_is_ephemeral_and_says_when(make_context):
    cog, client = cog_and_client(make_context())

    async def twice():
        member, other_member = next(_ids), next(_ids)
        first = await ask(cog, client, "Amazon Rekognition", user_id=member)
        second = await ask(cog, client, "Amazon Rekognition again", user_id=member)
        other = await ask(cog, client, "Amazon Rekognition", user_id=other_member)
        return first, second, other

    first, second, other = asyncio.run(twice())
    assert first.sent()[0][0] == "followup"
    ((kind, sent),) = second.sent()
    assert kind == "send_message" and sent["ephemeral"] and re.search(r"try again in \d+ s", sent["content"])
    assert not any(e[0] == "defer" for e in second.log)
    assert other.sent()[0][0] == "followup"  # cooldown is per user


def test_too_long_question_is_refused_ephemerally(make_context):
    cog, client = cog_and_client(make_context(max_question_chars=50))
    interaction = asyncio.run(ask(cog, client, "why " * 30))
    ((kind, sent),) = interaction.sent()
    assert kind == "send_message" and sent["ephemeral"] and "under 50" in sent["content"]


def test_not_enabled_channel(make_context):
    cog, client = cog_and_client(make_context(allowed_channels=(99,)))
    interaction = asyncio.run(ask(cog, client, "Amazon", channel_id=20))
    assert "not enabled" in interaction.sent()[0][1]["content"]


def test_missing_index_is_a_short_ephemeral_message(make_context, tmp_path, hash_config):
    empty = service_for(hash_config, tmp_path / "no-index")
    cog, client = cog_and_client(make_context(service=empty))
    interaction = asyncio.run(ask(cog, client, "Amazon"))
    ((_, sent),) = interaction.sent()
    assert sent["ephemeral"] and "No index" in sent["content"] and "/add" in sent["content"]
    assert str(tmp_path) not in sent["content"]  # no folder of the bot's machine is shown


def test_exception_inside_search_is_logged_not_shown(make_context, caplog):
    class Broken:
        def ask(self, *args, **kwargs):
            raise RuntimeError("faiss exploded: internal detail")

    cog, client = cog_and_client(make_context(service=Broken()))
    interaction = asyncio.run(ask(cog, client, "Amazon"))
    ((_, sent),) = interaction.sent()
    assert (
        sent["ephemeral"] and sent["content"] == f"Sorry, something went wrong answering that (ref {interaction.id})."
    )
    assert "internal detail" not in sent["content"]
    assert "faiss exploded" in caplog.text and str(interaction.id) in caplog.text


def test_bad_since_date(make_context):
    cog, client = cog_and_client(make_context())
    interaction = asyncio.run(ask(cog, client, "Amazon", since="whenever it was"))
    assert "must be a date" in interaction.sent()[0][1]["content"]
    # Relative forms are dates (retrieval.query.when): "last week", "7d".
    relative = asyncio.run(ask(cog, client, "Amazon", since="7d"))
    assert "must be a date" not in relative.sent()[0][1]["content"]


def test_filters_reach_the_service(make_context):
    cog, client = cog_and_client(make_context())
    interaction = asyncio.run(ask(cog, client, "facial recognition", outlet="Guardian", results=5))
    embeds = interaction.sent()[0][1]["embeds"]
    assert [e.title for e in embeds] == [
        "Silicon Valley has admitted facial recognition technology is toxic – about time"
    ]


def test_buttons_more_full_and_votes(make_context):
    context = make_context()
    cog, client = cog_and_client(context)

    async def flow():
        first = await ask(cog, client, "facial recognition")
        view = first.sent()[0][1]["view"]
        more_id, full_id, up_id, _ = [i.custom_id for i in view.children]
        more = MoreButton(*more_id.split(":")[2:3], int(more_id.split(":")[3]))
        i2 = FakeInteraction(client)
        await more.callback(i2)
        i3 = FakeInteraction(client)
        await FullButton(full_id.split(":")[2], 0).callback(i3)
        i4 = FakeInteraction(client, user_id=42)
        await VoteButton(up_id.split(":")[2], "up").callback(i4)
        i5 = FakeInteraction(client)
        await MoreButton("deadbeef", 3).callback(i5)
        return first, i2, i3, i4, i5

    first, more, full, vote, expired = asyncio.run(flow())
    first_titles = {e.title for e in first.sent()[0][1]["embeds"]}
    more_titles = {e.title for e in more.sent()[0][1]["embeds"]}
    assert more_titles and not first_titles & more_titles
    # "Read in full": each article of the page, whole, privately (one message each).
    articles = {e.title: e for e in first.sent()[0][1]["embeds"]}
    assert len(full.sent()) == len(articles) and all(sent["ephemeral"] for _, sent in full.sent())
    for _, sent in full.sent():
        assert sent["embeds"][0].title in articles and sent["embeds"][-1].footer.text.endswith("the whole article")
        (doc,) = [d for d in context.service.documents() if escape(d.title) == sent["embeds"][0].title]
        assert "\n\n".join(e.description for e in sent["embeds"]) == escape(doc.text)
    assert vote.sent()[0][1]["content"] == "Thanks for the feedback!"
    assert context.feedback.summary().up == 1
    assert "expired" in expired.sent()[0][1]["content"]


def test_reindex_requires_manage_server(make_context):
    context = make_context()
    cog = InfoCog(SimpleNamespace(context=context), context)
    interaction = FakeInteraction(SimpleNamespace(context=context), manage_guild=False)
    asyncio.run(invoke(cog.reindex, cog, interaction))
    assert "Manage Server" in interaction.sent()[0][1]["content"]


def test_sources_and_about(make_context):
    context = make_context()
    cog = InfoCog(SimpleNamespace(context=context), context)
    i1 = FakeInteraction(SimpleNamespace(context=context))
    asyncio.run(invoke(cog.sources, cog, i1))
    embed = i1.sent()[0][1]["embed"]
    assert "**15** articles" in embed.description and "newest from 2022-02-09" in embed.description
    i2 = FakeInteraction(SimpleNamespace(context=context))
    asyncio.run(invoke(cog.about, cog, i2))
    assert "cite" in i2.sent()[0][1]["content"]


@pytest.mark.parametrize(
    "question",
    [
        "🤖 who urged Amazon 🛑 to stop selling Rekognition? 🙏",
        "من طالب أمازون بالتوقف عن بيع Rekognition؟",
        "@everyone <@&123> ||spoiler|| ```code``` **who** urged Amazon?",
        "'; DROP TABLE documents; --",
        "(.*)+[a-z]{1,}\\d?^$|((a+)+)$",
        "the of and to a in is it that",
        "who\x07 urged\x1b[31m Amazon\x00?",
        "\x00\x00",
    ],
)
def test_hostile_questions_in_the_bot(make_context, question):
    cog, client = cog_and_client(make_context())
    interaction = asyncio.run(ask(cog, client, question))
    ((kind, sent),) = interaction.sent()
    if sent.get("ephemeral"):
        assert "Sorry" not in sent["content"]  # a validation message, not a crash
    else:
        assert kind == "followup" and sent["allowed_mentions"].to_dict() == discord.AllowedMentions.none().to_dict()
        assert "@everyone" not in sent["content"].replace("@\u200beveryone", "")
        assert "<@&123>" not in sent["content"].replace("\\<@&123>", "")


def mention_client(context):
    return SimpleNamespace(context=context, user=SimpleNamespace(id=999, bot=True))


def test_a_mention_is_answered_with_embeds_and_no_pings(make_context):
    context = make_context()
    client = mention_client(context)
    cog = AskCog(client, context)
    message = FakeMessage(client, "<@999> who urged Amazon to stop selling Rekognition?")
    asyncio.run(cog.on_message(message))
    (reply,) = message.replies
    assert reply["content"].startswith("**Q:** who urged Amazon")  # the mention itself is stripped
    assert reply["embeds"] and reply["allowed_mentions"].to_dict() == discord.AllowedMentions.none().to_dict()


def test_mentions_elsewhere_or_unaddressed_are_ignored_and_cooled_down(make_context):
    context = make_context(allowed_channels=(20,))
    client = mention_client(context)
    cog = AskCog(client, context)
    elsewhere = FakeMessage(client, "<@999> Amazon", channel_id=21)
    unaddressed = FakeMessage(client, "Amazon Rekognition", mention=False)
    member = next(_ids)
    first = FakeMessage(client, "<@999> Amazon Rekognition", author_id=member)
    again = FakeMessage(client, "<@999> Amazon again", author_id=member)

    async def run():
        for message in (elsewhere, unaddressed, first, again):
            await cog.on_message(message)

    asyncio.run(run())
    assert elsewhere.replies == [] and unaddressed.replies == []
    assert first.replies[0]["embeds"]
    assert re.search(r"try again in \d+ s", again.replies[0]["content"]) and again.replies[0]["delete_after"] == 15


def test_a_failing_mention_is_logged_and_apologised_for(make_context, caplog):
    class Broken:
        def ask(self, *args, **kwargs):
            raise RuntimeError("index on fire: internal detail")

    context = make_context(service=Broken())
    client = mention_client(context)
    message = FakeMessage(client, "<@999> Amazon")
    asyncio.run(AskCog(client, context).on_message(message))
    (reply,) = message.replies
    assert reply["content"] == f"Sorry, something went wrong answering that (ref {message.id})."
    assert "index on fire" in caplog.text


def test_filters_that_leave_no_article_are_named_not_called_no_answer():
    from bot.render import render_answer
    from retrieval.types import Answer

    reply = render_answer(Answer("amazon", (), False, excluded="since 2030-01-01; outlet “*Nope*”"))
    assert "No article is within the filters set (since 2030-01-01; outlet “\\*Nope\\*”)" in reply.content
    assert "I couldn't find this" not in reply.content
