"""kill -9 at every point of a write where the disk is between two states, for an add (with
the merge it triggers), a rebuild, a compaction and a feed's sync: inside a segment's files,
after they are written and before their fsync, inside a merge, after a manifest is written
and before its fsync, before CURRENT moves, part way through a feed's items, and between
CURRENT moving and the HTTP cache being saved (and, replaying old versions' order, between
the cache saved and CURRENT moving). Each kill is proven to land where it is named:
the process marks the point, then SIGKILLs itself. After each: the live generation
answers, `sourced doctor` is clean, no stray lock blocks the next write, and the next
run completes with every article."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

# Runs the CLI with one writer step wrapped: at the named point it writes a marker, then
# SIGKILLs itself (no cleanup of any kind can run).
RUNNER = r"""
import os, signal, sys
from pathlib import Path
import retrieval.store.lexical as lexical
import retrieval.store.folder.store as writer
import retrieval.ingest.web.source as web_source

point, marker = os.environ["CRASH_AT"], Path(os.environ["CRASH_MARKER"])
merging = False

def crash():
    marker.write_text(point)
    os.kill(os.getpid(), signal.SIGKILL)

def after(name, method):
    original = getattr(writer.FolderStore, method)
    def wrapped(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if point == name:
            crash()
        return result
    setattr(writer.FolderStore, method, wrapped)

def before(name, method):
    original = getattr(writer.FolderStore, method)
    def wrapped(self, *args, **kwargs):
        if point == name:
            crash()
        return original(self, *args, **kwargs)
    setattr(writer.FolderStore, method, wrapped)

# A segment's files are all written (by numpy, FAISS, SQLite, the postings) but not yet
# fsynced or renamed into segments/.
fsync_tree = writer.fsync_tree
def segment_written(folder):
    if point == "segment-before-fsync":
        crash()
    return fsync_tree(folder)
writer.fsync_tree = segment_written

# The generation's manifest (or CURRENT's replacement) is written, not yet fsynced.
fsync_file = writer.fsync_file
def file_written(f):
    name = Path(f.name).name
    if (point == "manifest-before-fsync" and name == writer.MANIFEST) or (
        point == "current-before-fsync" and name.endswith(".tmp")
    ):
        crash()
    return fsync_file(f)
writer.fsync_file = file_written

save = lexical.Postings.save
def half_written(self, folder):
    # A torn file, then the kill: in a new segment, or in the segment a merge is writing.
    if (point == "inside-segment" or (point == "inside-merge" and merging)) and "segment" in str(folder):
        (folder / "vocabulary.json").write_text("[")
        crash()
    return save(self, folder)
lexical.Postings.save = half_written

merge_group = writer.FolderStore._merge_group
def marked_merge(self, *args, **kwargs):
    global merging
    merging = True
    try:
        return merge_group(self, *args, **kwargs)
    finally:
        merging = False
writer.FolderStore._merge_group = marked_merge

# A feed's items are fetched one by one: the kill lands after the second page is read.
page = web_source._page
pages_read = 0
def counted_page(*args, **kwargs):
    global pages_read
    doc = page(*args, **kwargs)
    pages_read += 1
    if point == "mid-feed" and pages_read == 2:
        crash()
    return doc
web_source._page = counted_page

# The HTTP cache is saved after CURRENT moves: a kill in between leaves the new generation
# live and the previous validators. "cache-saved-before-current" replays the old order
# (the cache saved, then the kill before CURRENT moves) to show that it is harmless too.
import retrieval.ingest.web.fetch as web_fetch
caches = []
load_cache = web_fetch.HttpCache.load.__func__
def loaded(cls, folder):
    cache = load_cache(cls, folder)
    caches.append((cache, folder))
    return cache
web_fetch.HttpCache.load = classmethod(loaded)
save_cache = web_fetch.HttpCache.save
def saving(self, folder):
    if point == "before-cache-save":
        crash()
    return save_cache(self, folder)
web_fetch.HttpCache.save = saving
point_current = writer.FolderStore._point_current
def cache_first(self, *args, **kwargs):
    if point == "cache-saved-before-current":
        for cache, folder in caches:
            save_cache(cache, folder)
        crash()
    return point_current(self, *args, **kwargs)
writer.FolderStore._point_current = cache_first

after("after-segment", "_new_segment")
after("after-merge", "_merge_group")
before("before-current", "_point_current")
before("before-prune", "_prune")

from retrieval.cli import main
main(args=sys.argv[1:], prog_name="sourced")
"""

# Every point at which a write leaves the disk between two states, in the order a write
# passes them. An add passes all of them: its new segment completes a tier (merge_factor 2).
POINTS = [
    "inside-segment",
    "segment-before-fsync",
    "after-segment",
    "inside-merge",
    "after-merge",
    "manifest-before-fsync",
    "current-before-fsync",
    "before-current",
    "before-prune",
]
# A rebuild writes one segment and merges nothing.
REBUILD_POINTS = [p for p in POINTS if "merge" not in p]


def _article(folder, name, title, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"{title}\n\n{body}\n")


@pytest.fixture
def collection(tmp_path):
    env = {
        **os.environ,
        "SOURCED_CONFIG": str(tmp_path / "c.yaml"),
        "SOURCED_INDEX_DIR": str(tmp_path / "index"),
        "CRASH_MARKER": str(tmp_path / "marker"),
    }
    # merge_factor 2: the second small segment of an add completes a tier and is merged.
    (tmp_path / "c.yaml").write_text("embedding:\n  model: hash\nindex:\n  merge_factor: 2\n")
    first = tmp_path / "first"
    for i in range(3):
        _article(first, f"a{i}.txt", f"Heron count {i}", f"Volunteers counted {i + 3} grey herons at the lake.")
    second = tmp_path / "second"  # as many passages as the first: the same size tier
    for i in range(3):
        _article(second, f"b{i}.txt", f"Kestrels {i}", f"A pair of kestrels nested on roof number {i}.")
    return tmp_path, env, first, second


def sourced(env, *args, crash_at=None):
    run_env = {**env, "CRASH_AT": crash_at or "none"}
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *args], env=run_env, capture_output=True, text=True, timeout=300
    )


def _check_whole(env, tmp_path, expected_articles):
    doctor = sourced(env, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    asked = sourced(env, "ask", "--json", "herons lake count")
    assert asked.returncode == 0 and json.loads(asked.stdout)["hits"], asked.stderr
    listed = json.loads(sourced(env, "sources", "--json").stdout)
    assert len(listed["articles"]) == expected_articles


@pytest.mark.parametrize("point", POINTS)
def test_kill_during_an_add(collection, point):
    tmp_path, env, first, second = collection
    assert sourced(env, "add", str(first)).returncode == 0
    live = (tmp_path / "index" / "CURRENT").read_text()
    killed = sourced(env, "add", str(second), crash_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (tmp_path / "marker").read_text() == point  # the kill landed at this point
    switched = (tmp_path / "index" / "CURRENT").read_text() != live
    assert switched == (point == "before-prune")  # only then was the new generation live
    _check_whole(env, tmp_path, 6 if switched else 3)
    # No stray lock or half-written file blocks the next write, which completes.
    again = sourced(env, "index", str(second))
    assert again.returncode == 0, again.stderr
    _check_whole(env, tmp_path, 6)
    assert not list((tmp_path / "index").glob(".tmp-*"))


@pytest.mark.parametrize("point", REBUILD_POINTS)
def test_kill_during_a_rebuild(collection, point):
    tmp_path, env, first, second = collection
    assert sourced(env, "add", str(first), str(second)).returncode == 0
    live = (tmp_path / "index" / "CURRENT").read_text()
    killed = sourced(env, "index", "--rebuild", crash_at=point)
    assert killed.returncode == -signal.SIGKILL and (tmp_path / "marker").read_text() == point
    assert ((tmp_path / "index" / "CURRENT").read_text() != live) == (point == "before-prune")
    _check_whole(env, tmp_path, 6)
    again = sourced(env, "index", "--rebuild")
    assert again.returncode == 0, again.stderr
    _check_whole(env, tmp_path, 6)


def test_kill_during_a_compaction(collection):
    tmp_path, env, first, second = collection
    (tmp_path / "c.yaml").write_text("embedding:\n  model: hash\nindex:\n  merge_factor: 50\n")  # no merge on add
    sourced(env, "add", str(first))
    sourced(env, "add", str(second))
    live = (tmp_path / "index" / "CURRENT").read_text()
    killed = sourced(env, "compact", crash_at="after-merge")
    assert killed.returncode == -signal.SIGKILL and (tmp_path / "marker").read_text() == "after-merge"
    assert (tmp_path / "index" / "CURRENT").read_text() == live
    _check_whole(env, tmp_path, 6)
    assert sourced(env, "compact").returncode == 0
    _check_whole(env, tmp_path, 6)


FEED_POINTS = ["mid-feed", "before-current", "cache-saved-before-current", "before-cache-save"]


@pytest.mark.parametrize("point", FEED_POINTS)
def test_kill_during_a_feed_sync(collection, point):
    """A feed (with an ETag) that gained articles is re-polled and the sync is killed: part
    way through its items; before CURRENT moves; before it with the HTTP cache already
    saved (the order of old versions); or after CURRENT moved and before the cache (the
    validators of what was fetched) is saved. The next sync must hold every item the feed
    lists: a validator kept for an article the index never got cannot turn it into a 304,
    and validators older than the live generation only cost a download."""
    from tests.webserver import ARTICLES, NewsSite, rss

    tmp_path, env, _, _ = collection
    (tmp_path / "c.yaml").write_text("embedding:\n  model: hash\nweb:\n  host_delay_seconds: 0\n")
    slugs = list(ARTICLES)
    every = {title for title, _ in ARTICLES.values()}
    with NewsSite() as site:
        site.routes["/feed.xml"].body = rss(slugs[:1], site.url).encode()
        site.routes["/feed.xml"].etag = '"feed-1"'
        assert sourced(env, "add", f"{site.url}/feed.xml").returncode == 0
        live = (tmp_path / "index" / "CURRENT").read_text()
        site.routes["/feed.xml"].body = rss(slugs, site.url).encode()
        site.routes["/feed.xml"].etag = '"feed-2"'
        killed = sourced(env, "index", crash_at=point)
        assert killed.returncode == -signal.SIGKILL and (tmp_path / "marker").read_text() == point
        moved = point == "before-cache-save"
        assert ((tmp_path / "index" / "CURRENT").read_text() != live) == moved
        doctor = sourced(env, "doctor")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        held = {a["title"] for a in json.loads(sourced(env, "sources", "--json").stdout)["articles"]}
        assert held == (every if moved else {ARTICLES[slugs[0]][0]})
        again = sourced(env, "index")
        assert again.returncode == 0, again.stderr
        titles = {a["title"] for a in json.loads(sourced(env, "sources", "--json").stdout)["articles"]}
        assert titles == every  # every item the feed lists
        asked = json.loads(sourced(env, "ask", "--json", "library opening hours students").stdout)
        assert asked["hits"][0]["title"] == "Central library extends its opening hours"
        # And once the index holds them all, the feed's 304 is trusted: nothing is lost later.
        conditional = site.conditional_hits["/feed.xml"]
        assert sourced(env, "index").returncode == 0
        assert site.conditional_hits["/feed.xml"] == conditional + 1
        titles = {a["title"] for a in json.loads(sourced(env, "sources", "--json").stdout)["articles"]}
        assert titles == every


@pytest.mark.parametrize("point", [*REBUILD_POINTS])
def test_kill_during_the_first_index(collection, point):
    """No index yet, and the very first write is killed: until a whole generation is in
    place there is no index (one line says what to run); once it is (renamed into place,
    CURRENT not yet written) it answers, as it does after. Either way the next run
    completes, points CURRENT at it, and leaves no temporary files."""
    tmp_path, env, first, _ = collection
    killed = sourced(env, "add", str(first), crash_at=point)
    assert killed.returncode == -signal.SIGKILL and (tmp_path / "marker").read_text() == point
    if point == "before-prune":
        _check_whole(env, tmp_path, 3)
    else:
        assert not (tmp_path / "index" / "CURRENT").exists()
        asked = sourced(env, "ask", "herons lake count")
        if list((tmp_path / "index").glob("gen-*/manifest.json")):
            assert asked.returncode == 0 and "Traceback" not in asked.stderr, asked.stderr
        else:
            assert asked.returncode == 1 and "sourced index" in asked.stderr, asked.stderr
            assert len(asked.stderr.strip().splitlines()) == 1 and "Traceback" not in asked.stderr
    again = sourced(env, "index", str(first))  # adds it, or syncs it if it was registered
    assert again.returncode == 0, again.stderr
    _check_whole(env, tmp_path, 3)
    assert not list((tmp_path / "index").glob(".tmp-*"))
