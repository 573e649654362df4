"""Readers keep answering while another process rewrites the index: four reader threads in
this process and one reader process query while separate `sourced index` processes write 15
new generations (adds, merges and rebuilds). Any exception in any reader fails the test, and
the reads made while a writer was running are counted: there must be some."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from retrieval.config import build_config
from retrieval.store import FolderStore, check_index
from tests.helpers import build, service_for

pytestmark = pytest.mark.slow

WRITES = 15

# The reader process: asks until told to stop, counting the reads that began and ended
# while the writer flag file existed. An exception ends it with a traceback and exit 1.
READER = r"""
import json, sys
from pathlib import Path
from retrieval.config import build_config
from retrieval.embedding import HashEmbedder
from retrieval.query.service import QueryService
from retrieval.store import FolderStore

index, flag, stop = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
config = build_config({"embedding": {"model": "hash"}})
embedder = HashEmbedder()
service = QueryService(FolderStore(index), lambda: embedder, config.search)
reads = during = 0
titles = set()
while not stop.exists():
    writing = flag.exists()
    answer = service.ask("kestrel hovered")
    if not answer.hits:
        raise SystemExit("an empty answer: the index was seen half-written")
    reads += 1
    during += writing and flag.exists()
    titles.update(h.document.title for h in answer.hits)
print(json.dumps({"reads": reads, "during": during, "titles": sorted(titles)}))
"""


def test_readers_in_threads_and_a_process_keep_answering_while_a_writer_process_rewrites(tmp_path):
    config = build_config({"embedding": {"model": "hash"}})
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("Kestrels\n\nThe kestrel hovered over the verge.\n")
    index = tmp_path / "idx"
    build(config, index, [folder])
    (tmp_path / "c.yaml").write_text("embedding:\n  model: hash\n")
    env = {**os.environ, "SOURCED_CONFIG": str(tmp_path / "c.yaml"), "SOURCED_INDEX_DIR": str(index)}
    flag, stop_file = tmp_path / "writing", tmp_path / "stop"

    svc = service_for(config, index)
    errors: list[BaseException] = []
    counts = [[0, 0] for _ in range(4)]  # reads, reads during a write
    seen_titles: set[str] = set()
    writing = threading.Event()
    stop = threading.Event()

    def reader(slot: list[int]) -> None:
        try:
            while not stop.is_set():
                during = writing.is_set()
                answer = svc.ask("kestrel hovered")
                assert answer.hits, "an index is always live: never empty, never partial"
                seen_titles.update(h.document.title for h in answer.hits)
                slot[0] += 1
                slot[1] += during and writing.is_set()
        except BaseException as exc:  # noqa: BLE001 (any exception at all fails the test)
            errors.append(exc)

    process = subprocess.Popen(
        [sys.executable, "-c", READER, str(index), str(flag), str(stop_file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    threads = [threading.Thread(target=reader, args=(slot,)) for slot in counts]
    for t in threads:
        t.start()
    try:
        flag.touch()
        writing.set()
        for i in range(WRITES):
            (folder / f"new{i}.txt").write_text(f"Kestrel {i}\n\nAnother kestrel hovered, number {i}.\n")
            command = ["index", "--rebuild"] if i % 5 == 4 else ["index"]
            written = subprocess.run(
                [sys.executable, "-m", "retrieval.cli", *command], env=env, capture_output=True, text=True
            )
            assert written.returncode == 0, written.stderr
        writing.clear()
        flag.unlink()
    finally:
        stop.set()
        stop_file.touch()
        for t in threads:
            t.join()
        out, err = process.communicate(timeout=120)
    assert not errors, errors[:3]
    assert process.returncode == 0, err
    other = json.loads(out)
    thread_reads, thread_during = sum(c[0] for c in counts), sum(c[1] for c in counts)
    print(
        f"\nreads during {WRITES} writer processes: threads {thread_during} of {thread_reads}, "
        f"reader process {other['during']} of {other['reads']}"
    )
    assert thread_during > 0 and other["during"] > 0
    # New articles were picked up by both readers without a restart.
    assert any(t.startswith("Kestrel ") for t in seen_titles)
    assert any(t.startswith("Kestrel ") for t in other["titles"])
    store = FolderStore(index)
    assert store.open().manifest["documents"] == WRITES + 1 and check_index(store).ok
