"""Follow-up questions: how one is understood, searched through the service, and continued
in Discord by replying to an answer or asking in the thread under it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np
import pytest

from bot.cogs.ask import AskCog
from bot.context import BotContext
from retrieval.config import BotSettings, replace
from retrieval.desk.feedback import FeedbackLog
from retrieval.query.followup import understood
from tests.fakes import FakeInteraction, FakeMessage, invoke
from tests.helpers import service_for


@pytest.mark.parametrize(
    "previous, followup, searched",
    [
        (
            "Did Amazon stop selling facial recognition to police?",
            "What about Google?",
            "Google … stop selling facial recognition police",
        ),
        (  # no name of its own: the earlier question's names stay
            "What did Nicole Ozer of the ACLU warn about?",
            "Which communities did she say would be targeted?",
            "Which communities did she say would be targeted … Nicole Ozer ACLU warn",
        ),
        (  # a capitalised question word is not a name
            "Why did the IRS drop its facial recognition system?",
            "Whose win was it?",
            "Whose win was it … IRS drop facial recognition system",
        ),
        ("How long will Amazon's ban last?", "and how about IBM's ban?", "IBM's ban … long last"),
        ("Who urged Amazon?", "Who urged Amazon?", "Who urged Amazon"),  # nothing to borrow
    ],
)
def test_a_follow_up_is_understood_with_what_it_leaves_out(previous, followup, searched):
    assert understood(previous, followup) == searched


def test_the_service_searches_a_follow_up_as_understood(bundled_index, hash_config):
    service = service_for(hash_config, bundled_index)
    answer = service.ask("What about the IRS?", k=3, previous="Which city moved to ban facial recognition?")
    assert answer.question == "the IRS … city moved ban facial recognition"
    # The weight moves the question vector between the follow-up's own words and the text searched.
    _, (own, _) = service._followup("What about the IRS?", "Which city moved to ban facial recognition?", 0.0)
    _, (full, _) = service._followup("What about the IRS?", "Which city moved to ban facial recognition?", 1.0)
    _, (half, _) = service._followup("What about the IRS?", "Which city moved to ban facial recognition?", 0.5)
    plain_own = service.embedder.embed_query("What about the IRS?")
    np.testing.assert_allclose(own, plain_own, atol=1e-6)
    assert float(half @ own) > float(full @ own) and float(half @ full) > float(own @ full)
    assert np.isclose(np.linalg.norm(half), 1.0)


@pytest.fixture
def ctx(bundled_index, hash_config, tmp_path):
    def make(**settings):
        service = service_for(replace(hash_config, search={"min_score": 0.1}), bundled_index)
        store = FeedbackLog(tmp_path / "fb.sqlite")
        return BotContext(service, BotSettings(**{"cooldown_seconds": 0.0, **settings}), store)

    return make


def _bot_message(client, sent):
    """The bot's answer message as a member's reply refers to it (its buttons included)."""
    rows = [SimpleNamespace(children=list(sent["view"].children))]
    return SimpleNamespace(author=client.user, components=rows)


def test_a_reply_to_an_answer_continues_the_conversation(ctx):
    context = ctx()
    client = SimpleNamespace(context=context, user=SimpleNamespace(id=999, bot=True))
    cog = AskCog(client, context)
    first = asyncio.run(
        invoke(cog.ask, cog, FakeInteraction(client), question="Which city moved to ban facial recognition?")
    )
    reply = FakeMessage(client, "What about the IRS?", mention=False)
    reply.reference = SimpleNamespace(resolved=_bot_message(client, first.sent()[0][1]))
    asyncio.run(cog.on_message(reply))
    (answer,) = reply.replies
    assert answer["content"].startswith(
        "**Q:** What about the IRS?\n*Searching: the IRS … city moved ban facial recognition*"
    )
    assert answer["embeds"]
    # And the reply to that continues from the whole conversation.
    second = FakeMessage(client, "Why?", mention=False)
    second.reference = SimpleNamespace(resolved=_bot_message(client, answer))
    asyncio.run(cog.on_message(second))
    assert "*Searching: Why … IRS city moved ban facial recognition*" in second.replies[0]["content"]


def test_a_reply_to_a_member_or_an_unanswered_message_starts_afresh(ctx):
    context = ctx()
    client = SimpleNamespace(context=context, user=SimpleNamespace(id=999, bot=True))
    cog = AskCog(client, context)
    message = FakeMessage(client, "<@999> What about the IRS?")
    message.reference = SimpleNamespace(resolved=SimpleNamespace(author=SimpleNamespace(id=5), components=[]))
    asyncio.run(cog.on_message(message))
    assert "Searching" not in message.replies[0]["content"]


class ThreadableFollowup:
    """followup.send that returns the message (wait=True), which can open a thread."""

    def __init__(self, log, threads):
        self.log, self.threads = log, threads

    async def send(self, content=None, wait=False, **kwargs):
        self.log.append(("followup", {"content": content, **kwargs}))
        if not wait:
            return None
        threads = self.threads

        async def create_thread(name, auto_archive_duration):
            thread = SimpleNamespace(id=4000 + len(threads), name=name)
            threads.append(thread)
            return thread

        return SimpleNamespace(create_thread=create_thread)


def test_with_threads_an_answer_opens_one_and_questions_in_it_follow_up(ctx):
    context = ctx(threads=True)
    client = SimpleNamespace(context=context, user=SimpleNamespace(id=999, bot=True))
    cog = AskCog(client, context)
    threads: list = []
    interaction = FakeInteraction(client)
    interaction.followup = ThreadableFollowup(interaction.log, threads)
    asyncio.run(invoke(cog.ask, cog, interaction, question="Which city moved to ban facial recognition?"))
    (thread,) = threads
    assert thread.name == "Which city moved to ban facial recognition?"
    in_thread = FakeMessage(client, "<@999> What about the IRS?", channel_id=thread.id)
    asyncio.run(cog.on_message(in_thread))
    assert "*Searching: the IRS … city moved ban facial recognition*" in in_thread.replies[0]["content"]
    elsewhere = FakeMessage(client, "<@999> What about the IRS?", channel_id=20)
    asyncio.run(cog.on_message(elsewhere))
    assert "Searching" not in elsewhere.replies[0]["content"]
