"""One story, many outlets: wire copies are shown once, with who else reported them."""

from __future__ import annotations

import json

import numpy as np

from retrieval.config import replace
from retrieval.ingest.indexer import Indexer
from retrieval.query.ranking import Candidate, select
from retrieval.store import FolderStore
from retrieval.store.dedup import signatures, similarity
from tests.helpers import CountingEmbedder, service_for

WIRE = (
    "Engineers at the port authority said on Monday that the harbour bridge would reopen to traffic next "
    "week after two years of repairs that cost forty million pounds. The deck was replaced and the towers "
    "strengthened, and inspectors signed off the work on Friday. Commuters have faced detours of up to an "
    "hour since the bridge closed, and ferry operators added sailings to carry the overflow. The authority "
    "said tolls would stay at their old level for a year. Local businesses on both banks welcomed the news, "
    "saying trade had fallen by a third during the closure. A ceremony is planned for Saturday morning, "
    "when the mayor will walk across with the engineers who led the project."
)
OTHER = (
    "The central library will stay open until ten in the evening from next month, the city said on "
    "Tuesday. Librarians said students had asked for longer hours during exam season, and the council "
    "found the money by closing a branch office that few people used. The reading rooms will be staffed "
    "by volunteers after eight, and the cafe will close at six as before. A survey last spring found that "
    "most visitors came after work, the city said, and the new hours follow that demand."
)


def copies():
    first = {
        "title": "Harbour bridge to reopen next week",
        "text": WIRE,
        "url": "https://bugle.example/bridge",
        "outlet": "The Daily Bugle",
        "published": "2024-05-06",
    }
    second = {
        "title": "Bridge repairs finished, reopening set",
        "text": "By Staff Reporter, Associated Press\n\n"
        + WIRE.replace("on Monday", "Monday")
        + "\n\nCopyright 2024 The Associated Press.",
        "url": "https://herald.example/news/bridge-reopens",
        "outlet": "Evening Herald",
        "published": "2024-05-06T14:00:00Z",
    }
    unrelated = {"title": "Library extends its hours", "text": OTHER, "url": "https://bugle.example/library"}
    return [first, second, unrelated]


def test_copies_agree_and_unrelated_articles_do_not():
    a, b, c = signatures([WIRE, "A new headline\n\nBy Staff Reporter\n\n" + WIRE, OTHER])
    assert similarity(a, a) == 1.0
    assert similarity(a, b) >= 0.8
    assert similarity(a, c) < 0.1


def test_select_folds_a_copy_of_a_chosen_story():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cands = [Candidate(r, 1.0 - 0.1 * r, 0.5, 0.0) for r in range(3)]
    docs = {0: "a", 1: "b", 2: "c"}.__getitem__
    sig_a, sig_c = signatures([WIRE, OTHER])
    stories = {"a": sig_a, "b": sig_a.copy(), "c": sig_c}
    chosen = select(cands, docs, vectors, k=3, stories=stories, same_story=0.3)
    assert [c.doc_id for c in chosen] == ["a", "c"]
    assert chosen[0].duplicate_rows == [1]
    never = select(cands, docs, vectors, k=3, stories=stories, same_story=1.01)
    assert [c.doc_id for c in never] == ["a", "b", "c"]


def _index(tmp_path, hash_config):
    folder = tmp_path / "wire"
    folder.mkdir()
    (folder / "stories.jsonl").write_text("\n".join(json.dumps(d) for d in copies()) + "\n", encoding="utf-8")
    store = FolderStore(tmp_path / "idx")
    Indexer(hash_config, store, CountingEmbedder()).run([folder])
    return store


def test_a_wire_story_is_shown_once_with_who_else_reported_it(tmp_path, hash_config):
    store = _index(tmp_path, hash_config)
    answer = service_for(hash_config, store.path).ask("when will the harbour bridge reopen after repairs?")
    bridge = [h for h in answer.hits if "bridge" in h.document.title.lower()]
    assert len(bridge) == 1
    others = {d.outlet for d in bridge[0].duplicates}
    assert others == {"The Daily Bugle", "Evening Herald"} - {bridge[0].document.outlet}
    assert any(h.document.title == "Library extends its hours" for h in answer.hits)
    unfolded = service_for(replace(hash_config, search={"same_story": 1.01}), store.path)
    assert len([h for h in unfolded.ask("harbour bridge reopen").hits if "ridge" in h.document.title]) == 2


def test_signatures_survive_merges_and_are_computed_for_older_segments(tmp_path, hash_config):
    store = _index(tmp_path, hash_config)
    indexer = Indexer(hash_config, store, CountingEmbedder())
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note.txt").write_text("Tram strike\n\nTram drivers walked out on Friday over pay.\n", encoding="utf-8")
    indexer.add([extra])
    before = store.open().signatures(d.id for d in store.open().documents())
    indexer.compact()
    snap = store.open()
    (segment,) = snap.segments
    assert (segment.path / "minhash.npy").is_file()
    after = snap.signatures(d.id for d in snap.documents())
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
    # A segment written before signatures were stored: they are computed from its texts.
    # (Such a segment has no checksums either: with them, a missing minhash.npy is damage.)
    import json

    (segment.path / "minhash.npy").unlink()
    info = json.loads((segment.path / "segment.json").read_text())
    del info["files"]
    (segment.path / "segment.json").write_text(json.dumps(info))
    from retrieval.store.folder.segment import Segment

    old = Segment(segment.path)
    rows = old.signature_rows()
    assert all(np.array_equal(old.signatures[rows[k]], after[k]) for k in after)


def test_a_story_is_cited_at_the_outlet_that_ran_it_first(tmp_path, hash_config):
    # The later copy's headline matches the question better and ranked first: it was cited
    # as the story, with the outlet that ran it first under "also reported by".
    store = _index(tmp_path, hash_config)
    service = service_for(hash_config, store.path)
    for question in ("Bridge repairs finished, reopening set?", "when will the harbour bridge reopen after repairs?"):
        (bridge,) = [h for h in service.ask(question).hits if "ridge" in h.document.title]
        assert bridge.document.outlet == "The Daily Bugle", question  # 2024-05-06, before the Herald's 14:00
        assert [d.outlet for d in bridge.duplicates] == ["Evening Herald"]


def test_who_else_reported_a_story_does_not_depend_on_how_many_results_are_asked_for(tmp_path, hash_config):
    store = _index(tmp_path, hash_config)
    service = service_for(hash_config, store.path)
    listed = {
        k: {d.outlet for h in service.ask("harbour bridge reopen", k=k).hits for d in h.duplicates} for k in (1, 2, 5)
    }
    assert listed[1] == listed[2] == listed[5] == {"Evening Herald"}
