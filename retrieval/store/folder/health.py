"""`sourced doctor`: check that the live generation and each of its segments are whole."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from retrieval.errors import IndexDamagedError, SourcedError
from retrieval.store.base import HealthReport
from retrieval.store.folder.schema import CURRENT, MANIFEST, SEGMENTS
from retrieval.store.folder.segment import (
    FAISS_FILE,
    FILES,
    META,
    PASSAGE_VECTORS,
    SEGMENT,
    SENTENCE_VECTORS,
    file_sha256,
)
from retrieval.store.lexical import POSTINGS, VOCABULARY

if TYPE_CHECKING:
    from retrieval.store.folder.store import FolderStore


def verify_checksums(store: FolderStore, generation: str) -> tuple[list[str], list[str]]:
    """(facts, problems): every file of every segment the generation lists against the
    size and SHA-256 recorded when it was written. Each problem names the segment and file."""
    facts: list[str] = []
    problems: list[str] = []
    try:
        manifest = json.loads((store.path / generation / MANIFEST).read_text(encoding="utf-8"))
        entries: list[dict[str, Any]] = list(manifest.get("segments") or [])
    except (OSError, ValueError, AttributeError) as exc:
        return facts, [f"generation {generation}: {MANIFEST} cannot be read ({type(exc).__name__})"]
    unchecked = []
    for entry in entries:
        name = str(entry.get("name"))
        folder = store.path / SEGMENTS / name
        where = f"segment {name}"
        if not (folder / SEGMENT).is_file():
            problems.append(f"{where}: {SEGMENT} is missing (in {store.path / SEGMENTS})")
            continue
        if entry.get("checksum") and file_sha256(folder / SEGMENT) != entry["checksum"]:
            problems.append(f"{where}: {SEGMENT} is damaged (its checksum does not match the manifest's)")
            continue
        try:
            files = json.loads((folder / SEGMENT).read_text(encoding="utf-8")).get(FILES)
        except (OSError, ValueError, AttributeError) as exc:
            problems.append(f"{where}: {SEGMENT} cannot be read ({type(exc).__name__})")
            continue
        if not files:
            unchecked.append(name)
            continue
        for file, expected in sorted(files.items()):
            path = folder / file
            if not path.is_file():
                problems.append(f"{where}: {file} is missing")
            elif path.stat().st_size != expected.get("bytes"):
                problems.append(
                    f"{where}: {file} is damaged ({path.stat().st_size} bytes, written as {expected.get('bytes')})"
                )
            elif file_sha256(path) != expected.get("sha256"):
                problems.append(f"{where}: {file} is damaged (its checksum does not match)")
    if unchecked:
        facts.append(
            f"{len(unchecked)} segment(s) ({', '.join(unchecked)}) have no checksums (written by an earlier "
            "version): checked for consistency only"
        )
    elif entries:
        facts.append(f"checksums of every file of {len(entries)} segment(s) match")
    return facts, problems


def check_folder(store: FolderStore) -> HealthReport:
    """Verify every segment file's checksum, then that every segment's metadata rows,
    vectors, postings and FAISS index agree, and that the generation's counts match its
    segments."""
    facts: list[str] = []
    name = store.current_name()
    if name is None:
        return HealthReport((), (f"No index at {store.path} (no {CURRENT} file).",))
    facts, problems = verify_checksums(store, name)
    if problems:
        return HealthReport(tuple(facts), tuple(problems))
    try:
        snap = store.open()
    except SourcedError as exc:
        return HealthReport(tuple(facts), (str(exc),))
    try:
        report = _check_consistency(store, name, snap, facts)
    except IndexDamagedError as exc:
        return HealthReport(tuple(facts), (str(exc),))
    lost = store.pointer_problem()
    return HealthReport(report.facts, (*report.problems, lost)) if lost else report


def _check_consistency(store: FolderStore, name: str, snap: Any, facts: list[str]) -> HealthReport:
    import numpy as np

    problems: list[str] = []
    m = snap.manifest
    facts.append(
        f"live generation {name}, built {m.get('created')} with {m.get('model_id')} ({m.get('dimension')} dims)"
    )
    facts.append(
        f"{m.get('documents')} documents, {m.get('chunks')} passages in {len(snap.segments)} segment(s); "
        f"{len(snap.sources)} source(s); {len(store.generations()) - 1} earlier generation(s) to roll back to"
    )
    live_docs = live_rows = 0
    for segment, deleted, live in zip(snap.segments, snap.deleted, snap.live, strict=True):
        where = f"segment {segment.name}"
        files = [SEGMENT, META, PASSAGE_VECTORS, SENTENCE_VECTORS, POSTINGS, VOCABULARY]
        if segment.info.get("index_type", "flat") != "flat":
            files.append(FAISS_FILE)
        missing = [f for f in files if not (segment.path / f).exists()]
        if missing:
            problems.append(f"{where} is missing {', '.join(missing)} (in {store.path / SEGMENTS})")
            continue
        db = segment.db()
        n_docs = db.execute("SELECT count(*) FROM documents").fetchone()[0]
        n_chunks, lo, hi = db.execute("SELECT count(*), min(row), max(row) FROM chunks").fetchone()
        if n_chunks != segment.rows:
            problems.append(f"{where}: says {segment.rows} passages, its metadata has {n_chunks}")
        if n_chunks and (lo != 0 or hi != n_chunks - 1):
            problems.append(f"{where}: passage rows are not 0..{n_chunks - 1} (found {lo}..{hi})")
        orphans = db.execute(
            "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.doc_id WHERE d.id IS NULL"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{where}: {orphans} passages belong to no document")
        bad = db.execute(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.doc_id "
            'WHERE c.start < 0 OR c."end" > length(d.text) OR c.start >= c."end"'
        ).fetchone()[0]
        if bad:
            problems.append(f"{where}: {bad} passages have offsets outside their document")
        vectors = segment.vectors
        if vectors.shape != (n_chunks, snap.dimension):
            problems.append(f"{where}: vectors have shape {vectors.shape}, expected ({n_chunks}, {snap.dimension})")
        elif n_chunks:
            sample = np.unique(np.linspace(0, n_chunks - 1, num=min(n_chunks, 64)).astype(np.int64))
            norms = np.linalg.norm(np.asarray(vectors[sample], dtype=np.float32), axis=1)
            if not np.allclose(norms, 1.0, atol=5e-3):
                problems.append(f"{where}: stored vectors are not unit length")
            index = segment.faiss_index
            if index.ntotal != n_chunks:
                problems.append(f"{where}: FAISS holds {index.ntotal} vectors for {n_chunks} passages")
            else:
                query = np.asarray(vectors[sample[:1]], dtype=np.float32)
                _, found = index.search(query, 1)
                if found[0][0] >= 0 and abs(float(np.asarray(vectors[found[0][0]], np.float32) @ query[0]) - 1) > 5e-3:
                    problems.append(f"{where}: FAISS does not find a stored vector as its own nearest neighbour")
        n_sentences = db.execute("SELECT count(*) FROM sentences").fetchone()[0]
        if segment.sentence_vectors.shape != (n_sentences, snap.dimension):
            problems.append(
                f"{where}: {n_sentences} sentences but sentence vectors of shape {segment.sentence_vectors.shape}"
            )
        if len(segment.postings.lengths) != n_chunks:
            problems.append(f"{where}: BM25 postings cover {len(segment.postings.lengths)} rows for {n_chunks}")
        ids = {r[0] for r in db.execute("SELECT id FROM documents")}
        unknown = deleted - ids
        if unknown:
            problems.append(f"{where}: {len(unknown)} deletion marks name documents it does not hold")
        live_docs += n_docs - len(deleted & ids)
        live_rows += n_chunks if live is None else int(live.sum())
    if not problems:
        if live_docs != m.get("documents"):
            problems.append(f"manifest says {m.get('documents')} documents, the segments hold {live_docs} live")
        if live_rows != m.get("chunks"):
            problems.append(f"manifest says {m.get('chunks')} passages, the segments hold {live_rows} live")
    stale = [p.name for p in store.path.glob(".tmp-*")]
    if stale:
        facts.append(f"{len(stale)} unfinished write(s) from an interrupted run will be removed by the next write")
    orphaned = (
        {p.name for p in (store.path / SEGMENTS).glob("seg-*")} - store.referenced_segments()
        if (store.path / SEGMENTS).is_dir()
        else set()
    )
    if orphaned:
        facts.append(f"{len(orphaned)} segment(s) no generation uses (left by an interrupted write) will be removed")
    return HealthReport(tuple(facts), tuple(problems))
