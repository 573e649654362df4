"""Planning a sync apart from running it: which sources a command names, which it removes,
which cannot be read and are refused, and the :class:`Plan` the run then fills in (new
documents by source, deletions, reports) before one generation is written.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.ingest.readers import Problem
from retrieval.ingest.report import SourceError, SourceReport
from retrieval.ingest.sources import Source, SourceState, is_web, source_key, unreadable_reason, with_sync
from retrieval.types import Document


def _within(key: str, folders: Sequence[str]) -> str | None:
    """The first of ``folders`` that holds ``key`` (a file or folder below it), or None."""
    if is_web(key):
        return None
    # Registered keys are absolute but may hold ".." (`sourced add ../sport` from news/world).
    path = Path(os.path.normpath(key))
    return next(
        (f for f in folders if Path(os.path.normpath(f)) != path and path.is_relative_to(os.path.normpath(f))), None
    )


def named_sources(
    add: Sequence[Path | str],
    keys: list[str],
    strict_add: bool,
    plan: Plan,
    folders: Sequence[str] = (),
) -> list[tuple[str, Path]]:
    """The sources named on the command line, each once; with ``strict_add`` (`sourced
    add`) one already registered is reported as a duplicate, not synced.

    ``folders``: the registered folders (the samples aside: they make way for the user's
    own). A folder inside one is read with it already, and is not registered again: its
    link-less files would be two articles, each "also reported by" the other. A folder
    that holds a registered folder is refused for the same reason (nothing changes). A
    single file may be registered on its own inside a folder (it stays when the folder
    goes); a link-less one in a subfolder is then still read twice.
    """
    named: list[tuple[str, Path]] = []
    local = [k for k in add if not is_web(k)]
    named_folders = [source_key(p) for p in local if Path(p).is_dir()]
    for path in add:
        key = source_key(path)
        if key in [k for k, _ in named]:
            plan.problems.append(Problem(str(path), "named twice; read once", skipped=False))
            continue
        if strict_add and key in keys:
            plan.reports.append(SourceReport(key, "folder", "duplicate", reason="already a source; nothing to do"))
            continue
        if Path(key).is_dir() and key not in keys:  # a pair registered before this rule keeps syncing
            outer = _within(key, folders)
            if outer is not None:
                plan.reports.append(
                    SourceReport(key, "folder", "duplicate", reason=f"already read as part of {outer}; nothing to do")
                )
                continue
            outer = _within(key, named_folders)
            if outer is not None:
                plan.problems.append(
                    Problem(str(path), f"inside {outer}, named too; read once, with it", skipped=False)
                )
                continue
            held = [k for k in folders if k != key and _within(k, [key]) is not None]
            if held:
                raise SourceError(
                    f"{key} holds the registered folder {held[0]}, whose files would be read twice: "
                    f"remove it first (`sourced remove {held[0]}`); nothing changed."
                )
        named.append((key, Path(key)))
    return named


def removing_keys(remove: Sequence[str], keys: list[str]) -> set[str]:
    """The registered keys ``remove`` names; an unknown one stops the command before anything changes."""
    for key in remove:
        if source_key(key) not in keys and key not in keys:
            known = ", ".join(keys) or "none"
            raise SourceError(f"{key} is not a registered source (registered: {known}).")
    return {source_key(k) if source_key(k) in keys else k for k in remove}


def refuse_unreadable(
    plan: Plan, named: list[tuple[str, Path]], keys: list[str], state: dict[str, SourceState]
) -> dict[str, SourceState]:
    """New sources that cannot be read are refused (taken out of ``named``): nothing
    changes for them. A registered one named again keeps its articles."""
    for key, path in list(named):
        if is_web(key):
            continue  # known only once fetched
        reason = unreadable_reason(path)
        if reason is None:
            continue
        named.remove((key, path))
        plan.reports.append(SourceReport(key, "folder", "unreadable", reason=reason))
        if key in keys:
            state = with_sync(state, key, reason)
    return state


def action_of(add: Sequence[Path | str], remove: Sequence[str], rebuild: bool) -> str:
    if remove:
        return "remove " + " ".join(remove)
    if rebuild:
        return "rebuild"
    return ("add " + " ".join(str(p) for p in add)) if add else "sync"


@dataclass
class Plan:
    """What a sync will write: new documents by source, deletions, the registry after it."""

    documents: list[Document] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    deletions: set[str] = field(default_factory=set)
    reports: list[SourceReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0
    merged: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    # Per source read: (ids of articles it holds that are indexed under another source,
    # whether that is all of them: a source re-read whole, not a feed that keeps the past).
    also: dict[str, tuple[set[str], bool]] = field(default_factory=dict)


def with_also(registry: list[Source], plan: Plan) -> tuple[list[Source], bool]:
    """The registry with each source's shared articles as this sync found them, and
    whether that changed anything (then a generation is written to keep it)."""
    out, changed = [], False
    for source in registry:
        if source.key in plan.also:
            ids, whole = plan.also[source.key]
            also = tuple(sorted(ids if whole else set(source.also) | ids))
            if also != source.also:
                source, changed = dataclasses.replace(source, also=also), True
        out.append(source)
    return out, changed
