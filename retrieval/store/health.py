"""`sourced doctor`: check that a generation's parts agree with each other."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.lexical import LEXICAL_DIR

from .schema import CURRENT, EMBEDDINGS, MANIFEST, META, SENTENCE_VECTORS, VECTORS
from .writer import IndexStore


@dataclass(frozen=True)
class HealthReport:
    """What `sourced doctor` found: facts about the live generation, and any problems."""

    facts: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_index(store: IndexStore) -> HealthReport:
    """Verify that FAISS ids, metadata rows, BM25 rows, vectors and manifest all agree."""
    import numpy as np

    facts: list[str] = []
    problems: list[str] = []
    name = store.current_name()
    if name is None:
        return HealthReport((), (f"No index at {store.path} (no {CURRENT} file).",))
    snap = store.open()
    m = snap.manifest
    facts.append(
        f"live generation {name}, built {m.get('created')} with {m.get('model_id')} ({m.get('dimension')} dims)"
    )
    facts.append(f"{m.get('documents')} documents, {m.get('chunks')} passages, FAISS {m.get('index_type')}")
    for missing in [
        f for f in (MANIFEST, META, VECTORS, EMBEDDINGS, SENTENCE_VECTORS, LEXICAL_DIR) if not (snap.path / f).exists()
    ]:
        problems.append(f"{missing} is missing from {snap.path}")
    if problems:
        return HealthReport(tuple(facts), tuple(problems))
    db = snap.db()
    n_docs = db.execute("SELECT count(*) FROM documents").fetchone()[0]
    n_chunks, lo, hi = db.execute("SELECT count(*), min(row), max(row) FROM chunks").fetchone()
    if n_docs != m.get("documents"):
        problems.append(f"manifest says {m.get('documents')} documents, metadata has {n_docs}")
    if n_chunks != m.get("chunks"):
        problems.append(f"manifest says {m.get('chunks')} passages, metadata has {n_chunks}")
    if n_chunks and (lo != 0 or hi != n_chunks - 1):
        problems.append(f"passage rows are not 0..{n_chunks - 1} (found {lo}..{hi})")
    orphans = db.execute(
        "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.doc_id WHERE d.id IS NULL"
    ).fetchone()[0]
    if orphans:
        problems.append(f"{orphans} passages belong to no document")
    bad = db.execute(
        "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.doc_id "
        'WHERE c.start < 0 OR c."end" > length(d.text) OR c.start >= c."end"'
    ).fetchone()[0]
    if bad:
        problems.append(f"{bad} passages have offsets outside their document")
    index = snap.faiss_index
    if index.ntotal != n_chunks:
        problems.append(f"FAISS holds {index.ntotal} vectors for {n_chunks} passages")
    if index.d != snap.dimension:
        problems.append(f"FAISS dimension {index.d} differs from the manifest's {snap.dimension}")
    emb = snap.embeddings()
    if emb.shape != (n_chunks, snap.dimension):
        problems.append(f"stored vectors have shape {emb.shape}, expected ({n_chunks}, {snap.dimension})")
    elif n_chunks:
        sample = np.unique(np.linspace(0, n_chunks - 1, num=min(n_chunks, 64)).astype(np.int64))
        norms = np.linalg.norm(np.asarray(emb[sample]), axis=1)
        if not np.allclose(norms, 1.0, atol=1e-3):
            problems.append("stored vectors are not unit length")
        found = [row for row, _ in snap.search(np.asarray(emb[sample[0]]), 1)]
        if found and abs(float(np.asarray(emb[found[0]]) @ np.asarray(emb[sample[0]])) - 1.0) > 1e-3:
            problems.append("FAISS does not find a stored vector as its own nearest neighbour")
    n_sentences = db.execute("SELECT count(*) FROM sentences").fetchone()[0]
    if snap.sentence_matrix().shape != (n_sentences, snap.dimension):
        problems.append(f"{n_sentences} sentences but sentence vectors of shape {snap.sentence_matrix().shape}")
    if snap.lexical.rows != n_chunks:
        problems.append(f"BM25 index covers {snap.lexical.rows} rows for {n_chunks} passages")
    stale = [p.name for p in store.path.glob(".tmp-*")]
    if stale:
        facts.append(f"{len(stale)} unfinished write(s) from an interrupted run will be removed by the next index run")
    return HealthReport(tuple(facts), tuple(problems))
