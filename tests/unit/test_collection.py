"""The collection is kept: sources added and removed, typos and missing folders change
nothing, updates write only what is new, rollback undoes, segments answer like one index."""

from __future__ import annotations

import json
import shutil
import threading

import pytest
from click.testing import CliRunner

from retrieval.cli import main
from retrieval.config import replace
from retrieval.ingest.indexer import Indexer
from retrieval.store import FolderStore, check_index
from tests.helpers import BUNDLED, CountingEmbedder, service_for


def run(*args):
    return CliRunner().invoke(main, list(args))


def sources_json() -> dict:
    return json.loads(run("sources", "--json").stdout)


def article(folder, name, title, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"{title}\n\n{body}\n")


@pytest.fixture
def birds(tmp_path):
    folder = tmp_path / "birds"
    article(folder, "kestrel.txt", "Kestrels return to the town hall", "A pair of kestrels nested on the roof.")
    article(folder, "osprey.txt", "Osprey seen at the loch", "The first osprey of spring fished the loch.")
    return folder


def test_a_typo_changes_nothing_and_exits_2(cli_env):
    assert run("index", str(BUNDLED)).exit_code == 0
    store = FolderStore(cli_env / "index")
    live = store.current_name()
    result = run("index", "/nonexistent/news")
    assert result.exit_code == 2
    assert "/nonexistent/news: no such file or folder" in result.output
    assert "Traceback" not in result.output
    assert store.current_name() == live  # no generation was written
    after = sources_json()
    assert [s["path"] for s in after["sources"]] == [str(BUNDLED)]  # the typo is not registered
    assert len(after["articles"]) == 15
    # A plain sync afterwards still has the articles.
    assert run("index").exit_code == 0 and len(sources_json()["articles"]) == 15


def test_a_second_folder_joins_the_first(cli_env, birds):
    run("index", str(BUNDLED))
    result = run("index", str(birds))
    assert result.exit_code == 0, result.output
    data = sources_json()
    assert [s["path"] for s in data["sources"]] == [str(BUNDLED), str(birds)]
    assert [s["articles"] for s in data["sources"]] == [15, 2]
    assert len(data["articles"]) == 17
    assert {a["source"] for a in data["articles"] if "Kestrel" in a["title"]} == {str(birds)}


def test_add_remove_and_rollback(cli_env, birds):
    assert run("add", str(BUNDLED)).exit_code == 0
    added = run("add", str(birds))
    assert added.exit_code == 0 and f"added {birds}: 2 articles" in " ".join(added.output.split())
    assert len(sources_json()["articles"]) == 17
    removed = run("remove", str(birds))
    assert removed.exit_code == 0 and "removed" in removed.output
    assert [s["path"] for s in sources_json()["sources"]] == [str(BUNDLED)]
    assert len(sources_json()["articles"]) == 15
    undo = run("rollback")
    assert undo.exit_code == 0 and "undone" in undo.output
    assert len(sources_json()["articles"]) == 17  # the remove is undone
    assert run("rollback").exit_code == 0  # and the add of the birds
    assert [s["path"] for s in sources_json()["sources"]] == [str(BUNDLED)]
    oldest = run("rollback")  # the first add made the first generation: nothing before it
    assert oldest.exit_code == 1 and "Nothing to roll back to" in oldest.output
    assert check_index(FolderStore(cli_env / "index")).ok


def test_naming_a_source_twice_or_an_unknown_one_is_one_clear_line(cli_env, birds):
    run("add", str(BUNDLED))
    again = run("add", str(BUNDLED))
    assert again.exit_code == 0 and "already a source; nothing to do" in again.output  # nothing to do
    twice = run("index", str(birds), str(birds))
    assert twice.exit_code == 0 and "named twice; read once" in " ".join(twice.output.split())
    unknown = run("remove", str(birds / "nope"))
    assert unknown.exit_code == 1 and "is not a registered source" in unknown.output
    assert len([line for line in unknown.output.splitlines() if line.startswith("error")]) == 1
    assert len(sources_json()["articles"]) == 17


def test_a_folder_inside_a_source_or_holding_one_is_not_read_twice(cli_env, birds):
    # Link-less files read through two sources were two articles, each "also reported by"
    # the other, and counted twice.
    inner = birds / "sea"
    article(inner, "tern.txt", "Terns on the pier", "Arctic terns nested on the old pier.")
    both = run("index", str(birds), str(inner))  # one command naming both: read once
    assert both.exit_code == 0 and "read once, with it" in " ".join(both.output.split())
    assert len(sources_json()["articles"]) == 3
    for named in (inner,):
        result = run("add", str(named))
        assert result.exit_code == 0, result.output
        assert f"{named}: already read as part of {birds}; nothing to do" in " ".join(result.output.split())
    assert [s["path"] for s in sources_json()["sources"]] == [str(birds)]
    assert len(sources_json()["articles"]) == 3


def test_a_folder_holding_a_registered_source_is_refused_and_nothing_changes(cli_env, birds):
    inner = birds / "sea"
    article(inner, "tern.txt", "Terns on the pier", "Arctic terns nested on the old pier.")
    assert run("add", str(inner)).exit_code == 0
    store = FolderStore(cli_env / "index")
    live = store.current_name()
    result = run("add", str(birds))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        f"error: {birds} holds the registered folder {inner}, whose files would be read twice: "
        f"remove it first (`sourced remove {inner}`); nothing changed."
    ]
    assert store.current_name() == live and [s["path"] for s in sources_json()["sources"]] == [str(inner)]
    assert run("remove", str(inner)).exit_code == 0 and run("add", str(birds)).exit_code == 0
    assert len(sources_json()["articles"]) == 3


def test_a_missing_source_keeps_its_articles_until_removed(cli_env, birds):
    run("add", str(BUNDLED), str(birds))
    shutil.rmtree(birds)
    result = run("index")
    assert result.exit_code == 0  # the other source was read
    flat = " ".join(result.output.split())
    assert f"{birds}: no such file or folder; its 2 articles stay until `sourced remove {birds}`" in flat
    data = sources_json()
    missing = next(s for s in data["sources"] if s["path"] == str(birds))
    assert missing["articles"] == 2 and missing["problem"] == "no such file or folder"
    assert len(data["articles"]) == 17
    strict = run("index", "--strict")
    assert strict.exit_code == 3
    assert run("remove", str(birds)).exit_code == 0 and len(sources_json()["articles"]) == 15


def test_when_no_source_can_be_read_the_exit_status_is_2(cli_env, birds):
    run("add", str(birds))
    shutil.rmtree(birds)
    result = run("index")
    assert result.exit_code == 2 and "no source could be read" in result.output
    assert len(sources_json()["articles"]) == 2


def test_an_update_embeds_and_writes_only_what_changed(tmp_path, hash_config, birds):
    embedder = CountingEmbedder()
    store = FolderStore(tmp_path / "idx")
    indexer = Indexer(hash_config, store, embedder)
    indexer.run([BUNDLED, birds])
    first = store.open()
    embedder.embedded = 0
    article(birds, "osprey.txt", "Osprey seen at the loch", "The first osprey of spring fished the loch at dawn.")
    article(birds, "heron.txt", "A heron in the park", "A grey heron stood by the pond all morning.")
    report = indexer.run()
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 0, 16)
    snap = store.open()
    # The two articles' passages and sentences only; the rest is shared with the last generation.
    assert embedder.embedded == report.chunks_embedded + report.sentences_embedded <= 2 + 4
    assert [s.name for s in snap.segments[: len(first.segments)]] == [s.name for s in first.segments]
    assert snap.segments[-1].rows == 2 and len(snap.segments) == len(first.segments) + 1
    assert sum(len(d) for d in snap.deleted) == 1  # the old osprey
    titles = [h.document.title for h in service_for(hash_config, tmp_path / "idx").ask("osprey dawn loch").hits]
    assert titles.count("Osprey seen at the loch") == 1
    assert check_index(store).ok


QUESTIONS = [
    "who urged Amazon to stop selling Rekognition?",
    "facial recognition ban Boston",
    "what did Microsoft say about regulation?",
    "kestrels town hall",
    "IRS ID.me selfie",
]


def _answers(config, index_dir):
    service = service_for(config, index_dir)
    out = []
    for q in QUESTIONS:
        answer = service.ask(q, k=5)
        hits = [(h.document.id, h.chunk.start, h.chunk.end, round(h.score, 5)) for h in answer.hits]
        # Equal scores may come in either order: rows are numbered differently once merged.
        out.append(sorted(hits, key=lambda hit: (-hit[3], hit[0])))
    return out


def test_a_segmented_index_answers_exactly_like_a_merged_one(tmp_path, hash_config, birds):
    config = replace(hash_config, index={"merge_factor": 100})  # keep every segment apart
    store = FolderStore(tmp_path / "idx")
    indexer = Indexer(config, store, CountingEmbedder())
    indexer.run([BUNDLED])
    indexer.add([birds])
    for i in range(4):
        folder = tmp_path / f"more{i}"
        article(folder, "a.txt", f"Story {i} about herons", f"Herons and kestrels were counted {i} times.")
        indexer.add([folder])
    indexer.remove([str(tmp_path / "more1")])
    article(birds, "osprey.txt", "Osprey seen at the loch", "Two ospreys fished the loch.")  # an update
    indexer.run()
    snap = store.open()
    assert len(snap.segments) >= 6 and any(snap.deleted)
    segmented = _answers(config, tmp_path / "idx")
    indexer.compact()
    merged_snap = store.open()
    assert len(merged_snap.segments) == 1 and not any(merged_snap.deleted)
    assert _answers(config, tmp_path / "idx") == segmented
    # And both equal a fresh index of the same files built in one go.
    fresh = Indexer(config, FolderStore(tmp_path / "fresh"), CountingEmbedder())
    fresh.run([BUNDLED, birds, *(tmp_path / f"more{i}" for i in (0, 2, 3))])
    assert _answers(config, tmp_path / "fresh") == segmented


def test_the_merge_policy_keeps_few_segments(tmp_path, hash_config):
    config = replace(hash_config, index={"merge_factor": 3})
    store = FolderStore(tmp_path / "idx")
    indexer = Indexer(config, store, CountingEmbedder())
    indexer.run([BUNDLED])
    counts = []
    for i in range(9):
        folder = tmp_path / f"s{i}"
        article(folder, "a.txt", f"Note {i}", f"A short note number {i} about gulls.")
        indexer.add([folder])
        counts.append(len(store.open().segments))
    assert max(counts) <= 1 + 2 * 3  # never more than factor-1 per tier, over a few tiers
    assert counts[-1] < 9  # small segments were folded together
    assert len(store.open().documents()) == 15 + 9
    assert check_index(store).ok


def test_a_second_writer_gets_a_clear_busy_error_and_nothing_is_lost(cli_env, birds):
    run("add", str(BUNDLED))
    store = FolderStore(cli_env / "index")
    holding = threading.Event()
    release = threading.Event()

    def writer():
        with store.writer_lock():
            holding.set()
            release.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    holding.wait(10)
    try:
        busy = run("add", str(birds))
    finally:
        release.set()
        t.join()
    assert busy.exit_code == 1 and "is being written by process" in busy.output
    assert len(busy.output.strip().splitlines()) == 1
    assert len(sources_json()["articles"]) == 15
    assert run("add", str(birds)).exit_code == 0 and len(sources_json()["articles"]) == 17


def test_changed_settings_rebuild_every_source_whatever_the_command(tmp_path, hash_config, birds):
    store = FolderStore(tmp_path / "idx")
    Indexer(hash_config, store, CountingEmbedder()).run([BUNDLED, birds])
    other = replace(hash_config, chunking={"max_tokens": 64})
    embedder = CountingEmbedder()
    report = Indexer(other, store, embedder).remove([str(birds)])
    snap = store.open()
    assert snap.manifest["chunking"]["max_tokens"] == 64 and embedder.embedded > 0  # rebuilt
    assert len(snap.documents()) == 15 and [s["key"] for s in snap.sources] == [str(BUNDLED)]
    assert report.written and check_index(store).ok


def test_a_file_with_no_article_is_not_registered(cli_env, tmp_path):
    run("add", str(BUNDLED))
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    result = run("add", str(image))
    assert result.exit_code == 2 and "PNG image" in result.output
    assert [s["path"] for s in sources_json()["sources"]] == [str(BUNDLED)]


def test_a_generation_name_is_never_reused_after_a_rollback(cli_env, birds):
    from retrieval.embedding import HashEmbedder
    from retrieval.query.service import QueryService

    run("add", str(BUNDLED))
    store = FolderStore(cli_env / "index")
    service = QueryService(store, HashEmbedder, None)
    before = service.snapshot().generation
    run("add", str(birds))
    undone = store.current_name()
    run("rollback")
    run("add", str(birds))  # a new generation where the undone one was
    assert store.current_name() != undone and store.current_name() != before
    assert service.snapshot().generation == store.current_name()  # the service notices the change


def test_an_index_from_before_document_counts_in_the_manifest_still_updates(tmp_path, hash_config, birds):
    store = FolderStore(tmp_path / "idx")
    indexer = Indexer(hash_config, store, CountingEmbedder())
    indexer.run([birds])
    manifest_file = store.open().path / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    for entry in manifest["segments"]:
        del entry["documents"]  # as written by the version before the count was kept
    manifest_file.write_text(json.dumps(manifest))
    article(birds, "heron.txt", "A heron in the park", "A grey heron stood by the pond all morning.")
    report = indexer.run()
    assert report.added == 1
    snap = store.open()
    assert snap.manifest["documents"] == 3
    assert all("documents" in entry for entry in snap.manifest["segments"])
    assert check_index(store).ok


@pytest.mark.parametrize("damage", ["", "gen-999999-deadbeef\n", "../../../etc\n", None])
def test_a_lost_current_pointer_never_starts_the_collection_over(cli_env, birds, damage):
    # An empty or missing CURRENT read as "no index": the next `sourced index` built the
    # samples afresh and the user's articles were gone from the live collection, with
    # rollback refusing ("the oldest generation kept").
    assert run("add", str(BUNDLED), str(birds)).exit_code == 0
    store = FolderStore(cli_env / "index")
    live = store.current_name()
    current = cli_env / "index" / "CURRENT"
    if damage is None:
        current.unlink()
    else:
        current.write_text(damage)
    assert store.current_name() == live  # the newest whole generation
    doctor = run("doctor")
    assert doctor.exit_code == 1
    assert "the newest whole generation, is read as the live one (`sourced index` writes it again" in doctor.output
    assert "--rebuild" not in doctor.output
    assert len(sources_json()["articles"]) == 17  # read as before
    synced = run("index")
    assert synced.exit_code == 0, synced.output
    assert current.read_text().strip() == live  # pointed again, nothing rebuilt
    assert len(sources_json()["articles"]) == 17 and run("doctor").exit_code == 0


def test_a_sibling_named_through_dot_dot_is_not_inside_and_a_pair_registered_before_keeps_syncing(
    cli_env, birds, monkeypatch
):
    from retrieval.ingest.plan import Plan, named_sources

    sea, land = birds / "sea", birds / "land"
    article(sea, "tern.txt", "Terns on the pier", "Arctic terns nested on the old pier.")
    article(land, "owl.txt", "Owls in the barn", "Barn owls returned to the old barn.")
    assert run("add", str(sea)).exit_code == 0
    monkeypatch.chdir(sea)
    sibling = run("add", "../land")  # registered as …/birds/sea/../land: not inside sea
    assert sibling.exit_code == 0 and "already read as part of" not in sibling.output, sibling.output
    assert len(sources_json()["sources"]) == 2
    # A collection that registered a folder and one inside it (before the rule) still syncs both by name.
    plan = Plan()
    outer, inner = str(birds), str(sea)
    named = named_sources([birds], [outer, inner], False, plan, folders=[outer, inner])
    assert [k for k, _ in named] == [outer] and not plan.reports


def test_a_generation_never_made_live_is_not_found_later_as_the_newest(cli_env, birds, tmp_path, monkeypatch):
    # The pointer write of an add fails (a full disk): "the previous index is unchanged",
    # but its generation stayed, whole. After a rollback and a lost CURRENT it came back,
    # undoing the rollback and bringing back the failed add.
    from retrieval.store.folder.store import FolderStore as Store

    owls = tmp_path / "owls"
    article(owls, "owl.txt", "Owls in the barn", "Barn owls returned to the old barn.")
    terns = tmp_path / "terns"
    article(terns, "tern.txt", "Terns on the pier", "Arctic terns nested on the old pier.")
    assert run("add", str(birds)).exit_code == 0
    assert run("add", str(owls)).exit_code == 0
    real = Store._point_current

    def full_disk(self, name):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Store, "_point_current", full_disk)
    failed = run("add", str(terns))
    assert failed.exit_code == 1 and "unchanged" in failed.output
    monkeypatch.setattr(Store, "_point_current", real)
    assert run("rollback").exit_code == 0  # the owls go
    (cli_env / "index" / "CURRENT").unlink()
    assert [s["path"] for s in sources_json()["sources"]] == [str(birds)]
