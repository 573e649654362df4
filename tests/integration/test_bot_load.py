"""The bot under real load: 200 concurrent `/ask` through the real cog callback, answered
by the real default model (onnx-int8 with its query adapter) over the bundled articles.

Nothing here reads a clock. Searches are held at a gate until all 200 interactions have
been acknowledged: if acknowledging ever waited on a search (a search on the event loop,
or a defer behind the search slots), the gate would never open and the searches would
fail. The order of calls is then checked, and how many searches ran at once is counted.
"""

from __future__ import annotations

import asyncio
import os
import threading
from types import SimpleNamespace

import pytest

from bot.cogs.ask import AskCog
from bot.context import BotContext
from retrieval.config import BotSettings, build_config
from retrieval.desk.feedback import FeedbackLog
from retrieval.embedding import configured_embedder
from retrieval.ingest.indexer import Indexer
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from tests.fakes import FakeInteraction, invoke
from tests.helpers import BUNDLED

pytestmark = pytest.mark.slow

CONCURRENT = 200
QUESTIONS = [
    "who urged Amazon to stop selling Rekognition?",
    "facial recognition ban for police",
    "what did the ACLU ask tech companies?",
    "Microsoft and Google face surveillance",
]
# A deadlock guard only (the gate never opening), not a measure of speed.
GATE_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def real_service(tmp_path_factory):
    config = build_config({})  # the defaults a user gets
    embedder = configured_embedder(config.embedding)
    store = FolderStore(tmp_path_factory.mktemp("real-bot") / "index")
    assert Indexer(config, store, embedder).run([BUNDLED]).documents == 15
    return QueryService(store, lambda: embedder, config.search)


class GatedService:
    """The real service, with each search held until every interaction is acknowledged;
    records when each search starts and completes, and how many run at once."""

    def __init__(self, service: QueryService, events: list[tuple[str, int]]) -> None:
        self.service = service
        self.events = events
        self.all_acknowledged = threading.Event()
        self.lock = threading.Lock()
        self.running = self.most_at_once = 0

    def ask(self, question, k=None, filters=None, **options):
        if not self.all_acknowledged.wait(GATE_TIMEOUT_S):
            self.all_acknowledged.set()  # fail once, not once per interaction
            raise RuntimeError("acknowledging the interactions waited on the searches")
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            answer = self.service.ask(question, k, filters, **options)
        finally:
            with self.lock:
                self.running -= 1
                self.events.append(("searched", 0))
        return answer

    def __getattr__(self, name):
        return getattr(self.service, name)


def test_200_concurrent_asks_are_all_acknowledged_first_then_all_answered(real_service, tmp_path):
    events: list[tuple[str, int]] = []
    gated = GatedService(real_service, events)
    context = BotContext(gated, BotSettings(cooldown_seconds=0.0), FeedbackLog(tmp_path / "fb.sqlite"))
    client = SimpleNamespace(context=context, user=None)
    cog = AskCog(client, context)

    async def one(i: int) -> FakeInteraction:
        interaction = FakeInteraction(client)
        defer = interaction.response.defer

        async def recorded_defer(**kwargs):
            await defer(**kwargs)
            events.append(("acknowledged", interaction.id))
            if sum(1 for kind, _ in events if kind == "acknowledged") == CONCURRENT:
                gated.all_acknowledged.set()

        interaction.response.defer = recorded_defer
        return await invoke(cog.ask, cog, interaction, question=f"{QUESTIONS[i % len(QUESTIONS)]} ({i})")

    async def run() -> list[FakeInteraction]:
        return await asyncio.gather(*(one(i) for i in range(CONCURRENT)))

    interactions = asyncio.run(run())
    kinds = [kind for kind, _ in events]
    assert kinds.count("acknowledged") == CONCURRENT and kinds.count("searched") == CONCURRENT
    # Every interaction was acknowledged before any search completed.
    assert kinds.index("searched") == CONCURRENT, kinds[: CONCURRENT + 1]
    # Searches took turns in the bot's slots (one per core), never all at once.
    assert 1 <= gated.most_at_once <= max(1, os.cpu_count() or 1)
    # All 200 answered, each once, with cited passages; each question's first passage is
    # from the collection the index holds.
    for interaction in interactions:
        (sent,) = interaction.sent()
        kind, payload = sent
        assert kind == "followup" and payload["embeds"], payload.get("content")
        assert payload["embeds"][0].title
    titles = {d.title for d in real_service.store.open().documents()}
    assert {i.sent()[0][1]["embeds"][0].title for i in interactions} <= titles
