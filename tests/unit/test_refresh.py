"""The scheduled refresh in `sourced serve`: the same sync as /reindex, off the event loop."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

from bot.cogs.refresh import RefreshCog
from bot.context import BotContext
from retrieval.config import BotSettings
from retrieval.desk.feedback import FeedbackLog
from retrieval.ingest.indexer import Indexer
from retrieval.store import FolderStore
from tests.helpers import CountingEmbedder, service_for


def write(folder, name, title, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"{title}\n\n{body}\n", encoding="utf-8")


def test_a_refresh_syncs_what_is_new_and_logs_it(tmp_path, hash_config):
    folder = tmp_path / "news"
    write(folder, "kestrel.txt", "Kestrels return to the town hall", "A pair of kestrels nested on the roof.")
    store = FolderStore(tmp_path / "idx")
    Indexer(hash_config, store, CountingEmbedder()).run([folder])
    service = service_for(hash_config, store.path)

    def reindex(progress):  # what `sourced serve` passes: a sync of every registered source
        return Indexer(hash_config, service.store, CountingEmbedder()).run((), progress=None)

    context = BotContext(service, BotSettings(), FeedbackLog(tmp_path / "fb.sqlite"), reindex, refresh_minutes=30)
    cog = RefreshCog(SimpleNamespace(), context, 30)
    write(folder, "osprey.txt", "Osprey seen at the loch", "The first osprey of spring fished the loch.")
    line = asyncio.run(cog.refresh())
    assert line.startswith("refresh: 1 added, 0 updated, 0 removed; 2 articles")
    assert service.ask("osprey loch spring").hits[0].document.title == "Osprey seen at the loch"
    assert asyncio.run(cog.refresh()).startswith("refresh: nothing new (2 articles")


def test_answers_are_not_delayed_by_a_running_refresh(tmp_path, make_bot_context):
    release, started = threading.Event(), threading.Event()

    def slow_reindex(progress):
        started.set()
        release.wait(timeout=60)
        return SimpleNamespace(written=False, documents=15, skipped=(), unreadable=())

    context = make_bot_context(slow_reindex)
    cog = RefreshCog(SimpleNamespace(), context, 30)

    async def scenario():
        refresh = asyncio.create_task(cog.refresh())
        await asyncio.to_thread(started.wait, 60)
        answer = await asyncio.to_thread(context.service.ask, "facial recognition ban")
        still_running = not refresh.done()
        skipped = await cog.refresh()  # a second refresh while one runs is skipped, not queued
        release.set()
        return answer, still_running, skipped, await refresh

    answer, still_running, skipped, line = asyncio.run(scenario())
    assert answer.hits and still_running and skipped is None
    assert line == "refresh: nothing new (15 articles; 0 problems)"


def test_a_failing_refresh_is_logged_and_the_bot_goes_on(make_bot_context, caplog):
    def broken(progress):
        raise OSError("disk full")

    cog = RefreshCog(SimpleNamespace(), make_bot_context(broken), 30)
    assert asyncio.run(cog.refresh()) is None
    assert "refresh failed: disk full" in caplog.text
