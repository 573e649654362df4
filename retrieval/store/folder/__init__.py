"""The folder store: immutable segments in a folder, and generations that list them.

``schema`` says what is on disk, ``segment`` writes and reads one segment, ``snapshot``
reads a generation as one index, ``store`` (:class:`FolderStore`) adds segments and
generations atomically under a lock (``lock``, ``durable``), with merges and rollback,
``vectors`` builds the FAISS index of a segment, and ``health`` checks that a generation
is whole (``sourced doctor``).
"""

from __future__ import annotations

from retrieval.store.base import STORES


@STORES.register("folder")
def _folder_store(config, folder, reading, namespace):
    # ``reading`` and ``namespace`` change nothing here: readers and writers share the
    # folder, and each collection already has a folder of its own.
    from retrieval.store.folder.store import FolderStore

    return FolderStore(folder, config.index.keep_generations, config.index.merge_factor)
