#!/usr/bin/env python
"""Names with accents, asked with and without them ("Who is Donna Vekic?" of an article
that writes "Donna Vekić"): what folding accents in the BM25 tokens (``fold``,
retrieval/store/lexical.py) changes.

The names are the capitalised pairs of the RealTime QA dev pool with a non-ASCII letter
(the heuristic of ``benchmarks/devsets/build.py``, widened to any script's letters). The
collection is the passages that hold them plus 300 others of the pool (picked by a hash of
their id), indexed twice with the configured model: as a new index is now (accents folded)
and as one written before folding existed. Right: a passage holding the name is among the
first three shown. Usage::

    .venv/bin/python -m benchmarks.accent_names ../shared/benchmarks/realtimeqa-dev [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
from datetime import date
from pathlib import Path

from benchmarks.devsets.build import NOT_NAMES
from retrieval.bench.beir import load_beir
from retrieval.config import load_config
from retrieval.embedding import configured_embedder
from retrieval.ingest.indexer import Indexer
from retrieval.query.service import QueryService
from retrieval.store import FolderStore
from retrieval.store.lexical import fold

ROOT = Path(__file__).resolve().parent.parent
PAIR = re.compile(r"(?<![\w'’.-])([^\W\d_]{2,}) ([^\W\d_]{3,})(?![\w'’-])")
OTHERS = 300


def accented_names(corpus: dict[str, str]) -> dict[str, set[str]]:
    """Each accented name and the passages holding it."""
    found: dict[str, set[str]] = {}
    for pid, text in corpus.items():
        for m in PAIR.finditer(text):
            first, last = m.groups()
            if not (first[0].isupper() and last[0].isupper()) or m.group().isascii():
                continue
            if first in NOT_NAMES or last in NOT_NAMES:
                continue
            found.setdefault(m.group(), set()).add(pid)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    config = load_config()
    embedder = configured_embedder(config.embedding)
    documents = {d.id: d for split in ("train", "test") for d in load_beir(args.folder, split).documents()}
    names = accented_names({i: d.text for i, d in documents.items()})
    holding = set().union(*names.values()) if names else set()
    rest = sorted((i for i in documents if i not in holding), key=lambda i: hashlib.sha1(i.encode()).hexdigest())
    chosen = [documents[i] for i in sorted(holding) + rest[:OTHERS]]
    real = Indexer.settings

    def before(self):  # what an index written before folding records
        settings = real(self)
        return {**settings, "lexical": {k: v for k, v in settings["lexical"].items() if k != "fold"}}

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, settings in (("before (no folding)", before), ("folded (default)", real)):
            Indexer.settings = settings
            store = FolderStore(Path(tmp) / label.split()[0])
            Indexer(config, store, embedder).index_documents(chosen, label="accent-names")
            Indexer.settings = real
            service = QueryService(store, lambda: embedder, config.search)
            row = {}
            for form, spell in (("without accents", fold), ("as written", lambda n: n)):
                hits, answered = [], []
                for name in sorted(names):
                    answer = service.ask(f"Who is {spell(name)}?", k=3)
                    hits.append(any(fold(name).lower() in fold(h.text).lower() for h in answer.hits))
                    answered.append(answer.answered)
                row[form] = {"hit@3": sum(hits), "answered": sum(answered), "n": len(hits)}
            results[label] = row
            print(label, json.dumps(row), flush=True)
    out = args.out or ROOT / "benchmarks" / "results" / f"accent-names-folder-{date.today().isoformat()}.json"
    payload = {
        "date": date.today().isoformat(),
        "model": embedder.model_id,
        "names": sorted(names),
        "passages": len(chosen),
        "results": results,
        "command": "python -m benchmarks.accent_names ../shared/benchmarks/realtimeqa-dev",
    }
    out.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
