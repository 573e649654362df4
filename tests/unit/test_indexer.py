"""Incremental indexing: only new or changed passages are embedded."""

import shutil

from retrieval.config import replace
from retrieval.ingest.indexer import Indexer
from retrieval.store import FolderStore
from tests.helpers import BUNDLED, CountingEmbedder, build


def copy_bundled(tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(BUNDLED, folder)
    return folder


def test_first_run_embeds_everything_second_run_nothing(tmp_path, hash_config):
    folder = copy_bundled(tmp_path)
    embedder = CountingEmbedder()
    first = build(hash_config, tmp_path / "idx", [folder], embedder)
    assert first.written and first.added == 15 and first.documents == 15
    assert first.chunks_embedded == first.chunks > 15 and first.sentences_embedded > first.chunks
    assert embedder.embedded == first.chunks_embedded + first.sentences_embedded
    gen = FolderStore(tmp_path / "idx").current_name()

    second = build(hash_config, tmp_path / "idx", [folder], embedder)
    assert not second.written and second.chunks_embedded == 0 and second.unchanged == 15
    assert embedder.embedded == first.chunks_embedded + first.sentences_embedded  # nothing more
    assert FolderStore(tmp_path / "idx").current_name() == gen


def test_changed_added_and_removed_files(tmp_path, hash_config):
    folder = copy_bundled(tmp_path)
    embedder = CountingEmbedder()
    first = build(hash_config, tmp_path / "idx", [folder], embedder)

    truthout = folder / "003_dda86c09921c1694.txt"
    truthout.write_text(truthout.read_text().replace("a coalition of 90", "a coalition of ninety"))
    (folder / "004_a582f3a2c9e06838.txt").unlink()
    (folder / "new.txt").write_text("A new story\n\nIt has one sentence of text.\n")
    embedder.embedded = 0
    report = build(hash_config, tmp_path / "idx", [folder], embedder)
    assert (report.added, report.updated, report.removed) == (1, 1, 1)
    # Only the Truthout passages holding the edit (two, as chunks overlap) and the new story,
    # and likewise only the edited sentence and the new story's sentences.
    assert 0 < report.chunks_embedded <= 3 and 0 < report.sentences_embedded <= 3
    assert embedder.embedded == report.chunks_embedded + report.sentences_embedded
    snap = FolderStore(tmp_path / "idx").open()
    assert snap.manifest["documents"] == 15 and len(snap.documents()) == 15
    assert not [d for d in snap.documents() if d.source == "004_a582f3a2c9e06838.txt"]
    assert report.chunks == snap.chunk_count == sum(len(v) for v in snap.chunk_records().values())
    assert first.chunks != report.chunks


def test_vectors_reused_are_the_vectors_a_rebuild_computes(tmp_path, hash_config):
    folder = copy_bundled(tmp_path)
    build(hash_config, tmp_path / "a", [folder])
    (folder / "new.txt").write_text("A new story\n\nIt has one sentence of text.\n")
    build(hash_config, tmp_path / "a", [folder])  # incremental
    build(hash_config, tmp_path / "b", [folder])  # from scratch
    a, b = FolderStore(tmp_path / "a").open(), FolderStore(tmp_path / "b").open()
    rows_a = {(r.doc_id, r.ordinal): row for recs in a.chunk_records().values() for row, r in recs}
    rows_b = {(r.doc_id, r.ordinal): row for recs in b.chunk_records().values() for row, r in recs}
    assert rows_a.keys() == rows_b.keys()
    ea, eb = a.embeddings(), b.embeddings()
    for key, row in rows_a.items():
        assert (ea[row] == eb[rows_b[key]]).all()


def test_changed_chunk_settings_rechunk_everything(tmp_path, hash_config):
    folder = copy_bundled(tmp_path)
    build(hash_config, tmp_path / "idx", [folder])
    smaller = replace(hash_config, chunking={"max_tokens": 60})
    report = build(smaller, tmp_path / "idx", [folder])
    assert report.written
    assert FolderStore(tmp_path / "idx").open().manifest["chunking"]["max_tokens"] == 60


def test_bad_files_are_reported_and_the_rest_indexed(tmp_path, hash_config):
    folder = copy_bundled(tmp_path)
    (folder / "broken.md").write_text("---\ntitle: never closed\n")
    (folder / "picture.txt").write_bytes(b"\x89PNG\r\n\x1a\n....")
    report = build(hash_config, tmp_path / "idx", [folder])
    assert report.documents == 15
    assert sorted(p.source for p in report.skipped) == ["broken.md", "picture.txt"]


def test_chunks_keep_offsets_into_the_document(bundled_index):
    snap = FolderStore(bundled_index).open()
    rows = list(range(snap.chunk_count))
    for chunk, doc in snap.chunks(rows).values():
        assert doc.text[chunk.start : chunk.end] == chunk.text


def test_approximate_index_end_to_end(tmp_path, hash_config):
    from retrieval.query.ranking import Filters
    from retrieval.store import check_index
    from tests.helpers import service_for

    config = replace(hash_config, index={"kind": "ivf-flat"})
    build(config, tmp_path / "idx", [BUNDLED])
    store = FolderStore(tmp_path / "idx")
    snap = store.open()
    (segment,) = snap.segments
    assert segment.info["index_type"] == "ivf-flat" and segment.info["index_params"]["nprobe"] >= 1
    assert check_index(store).ok
    service = service_for(config, tmp_path / "idx")
    assert service.ask("Rekognition police").hits
    hits = service.ask("facial recognition", k=10, filters=Filters(outlet="guardian")).hits
    assert [h.document.outlet for h in hits] == ["The Guardian"]


def test_an_index_of_the_previous_format_is_rebuilt_keeping_its_folders(tmp_path, hash_config):
    import json

    # What format 4 left on disk: one generation folder whose manifest names the folders.
    old = tmp_path / "idx" / "gen-000004"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text(json.dumps({"format_version": 4, "sources": [str(BUNDLED)]}))
    (tmp_path / "idx" / "CURRENT").write_text("gen-000004\n")
    report = Indexer(hash_config, FolderStore(tmp_path / "idx"), CountingEmbedder()).run()
    store = FolderStore(tmp_path / "idx")
    assert report.written and report.documents == 15 and store.open().current_format
    assert [s["key"] for s in store.open().sources] == [str(BUNDLED)]  # its folder is still the source


def test_sentence_vectors_can_be_turned_off(tmp_path, hash_config):
    from tests.helpers import service_for

    config = replace(hash_config, index={"sentence_vectors": False})
    report = build(config, tmp_path / "idx", [BUNDLED])
    assert report.sentences_embedded == 0
    hit = service_for(config, tmp_path / "idx").ask("Rekognition police").hits[0]
    assert hit.highlight  # bold sentence chosen by word overlap instead


def test_a_new_index_folds_accents_and_an_older_one_keeps_its_tokens_until_rebuilt(tmp_path, hash_config, monkeypatch):
    from retrieval.query.service import QueryService

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("EU rules\n\nVěra Jourová warned the platforms about disinformation.\n")

    def names_found(index_dir, question):
        service = QueryService(
            FolderStore(index_dir), CountingEmbedder, replace(hash_config, search={"mode": "bm25"}).search
        )
        return [h.document.title for h in service.ask(question, k=3).hits]

    build(hash_config, tmp_path / "new", [folder])
    assert FolderStore(tmp_path / "new").open().manifest["lexical"]["fold"] == "accents"
    assert names_found(tmp_path / "new", "Who is Vera Jourova?") == ["EU rules"]

    # An index written before folding existed: its settings have no "fold".
    real = Indexer.settings

    def older(self):
        settings = real(self)
        return {**settings, "lexical": {k: v for k, v in settings["lexical"].items() if k != "fold"}}

    monkeypatch.setattr(Indexer, "settings", older)
    build(hash_config, tmp_path / "old", [folder])
    monkeypatch.setattr(Indexer, "settings", real)
    # Today's indexer adds to it in place (nothing re-embedded) and keeps it unfolded, so
    # its old and new segments and the questions asked of it agree.
    (folder / "b.txt").write_text("More EU rules\n\nJourová spoke again on Tuesday.\n")
    embedder = CountingEmbedder()
    report = build(hash_config, tmp_path / "old", [folder], embedder)
    assert report.added == 1 and report.unchanged == 1
    assert "fold" not in FolderStore(tmp_path / "old").open().manifest["lexical"]
    assert sorted(names_found(tmp_path / "old", "What did Jourová say?")) == ["EU rules", "More EU rules"]
    assert names_found(tmp_path / "old", "What did Jourova say?") == []
    # A rebuild folds it.
    indexer = Indexer(hash_config, FolderStore(tmp_path / "old"), CountingEmbedder())
    indexer.run(rebuild=True)
    assert FolderStore(tmp_path / "old").open().manifest["lexical"]["fold"] == "accents"
    assert sorted(names_found(tmp_path / "old", "What did Jourova say?")) == ["EU rules", "More EU rules"]


def test_an_index_folded_in_a_way_this_version_does_not_know_is_rebuilt_not_mixed(tmp_path, hash_config, monkeypatch):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("EU rules\n\nVěra Jourová warned the platforms.\n")
    real = Indexer.settings

    def later(self):  # as a later version might record another folding
        settings = real(self)
        return {**settings, "lexical": {**settings["lexical"], "fold": "accents-and-more"}}

    monkeypatch.setattr(Indexer, "settings", later)
    build(hash_config, tmp_path / "idx", [folder])
    monkeypatch.setattr(Indexer, "settings", real)
    assert FolderStore(tmp_path / "idx").open().manifest["lexical"]["fold"] == "accents-and-more"
    (folder / "b.txt").write_text("More EU rules\n\nJourová spoke again.\n")
    report = build(hash_config, tmp_path / "idx", [folder])
    snap = FolderStore(tmp_path / "idx").open()
    assert report.written and snap.manifest["lexical"]["fold"] == "accents" and len(snap.manifest["segments"]) == 1


def test_an_unfolded_index_says_once_per_sync_and_in_doctor_that_a_rebuild_folds_it(cli_env, monkeypatch):
    from click.testing import CliRunner

    from retrieval.cli import main

    def run(*args):
        return CliRunner().invoke(main, list(args))

    folder = cli_env / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("EU rules\n\nVěra Jourová warned the platforms about disinformation.\n")
    real = Indexer.settings

    def older(self):  # as an index written before folding existed
        settings = real(self)
        return {**settings, "lexical": {k: v for k, v in settings["lexical"].items() if k != "fold"}}

    monkeypatch.setattr(Indexer, "settings", older)
    first = run("index", str(folder))
    monkeypatch.setattr(Indexer, "settings", real)
    assert first.exit_code == 0 and "--rebuild" in first.output
    for args in (("index",), ("doctor",)):
        result = run(*args)
        assert result.exit_code == 0, result.output
        notes = [line for line in result.output.splitlines() if line.startswith("note: this index was written")]
        assert len(notes) == 1 and "`sourced index --rebuild`" in notes[0], result.output
    rebuilt = run("index", "--rebuild")
    assert rebuilt.exit_code == 0 and "note: this index" not in rebuilt.output
    assert "note: this index" not in run("doctor").output
