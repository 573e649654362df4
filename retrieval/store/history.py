"""What each kept generation changed: `sourced history`, and what `sourced rollback` undid.

Works on any store through the contract (``generations()``, ``open_generation()``): each
generation's manifest says what made it (its action) and which sources it held; its
documents (id -> content hash) compared with those of the generation it was made from say
which articles it added, removed and changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.store.base import Store


@dataclass(frozen=True)
class GenerationChange:
    """One generation and what it changed from the one before it (``base``)."""

    name: str
    action: str
    created: str | None
    live: bool
    documents: int
    base: str | None  # the generation it is compared with ("": the first, made from nothing; None: oldest kept)
    added: tuple[str, ...] = ()  # document ids
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    sources_added: tuple[str, ...] = ()
    sources_removed: tuple[str, ...] = ()
    titles: dict[str, str] = field(default_factory=dict)  # id -> title of what it added, removed or changed

    def summary(self) -> str:
        """One line: "+2 articles, -1, 3 changed; source added: /news"."""
        if self.base is None:
            parts = [f"{self.documents} article{'s' if self.documents != 1 else ''} (the oldest generation kept)"]
        else:
            parts = [f"+{len(self.added)} added, -{len(self.removed)} removed, {len(self.changed)} changed"]
        if self.sources_added:
            parts.append("source added: " + ", ".join(self.sources_added))
        if self.sources_removed:
            parts.append("source removed: " + ", ".join(self.sources_removed))
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        def docs(ids: tuple[str, ...]) -> list[dict[str, str]]:
            return [{"doc_id": i, "title": self.titles.get(i, "")} for i in ids]

        return {
            "generation": self.name,
            "action": self.action,
            "created": self.created,
            "live": self.live,
            "documents": self.documents,
            "compared_with": self.base,
            "added": docs(self.added),
            "removed": docs(self.removed),
            "changed": docs(self.changed),
            "sources_added": list(self.sources_added),
            "sources_removed": list(self.sources_removed),
        }


def history(store: Store, titles: bool = True) -> list[GenerationChange]:
    """Every kept generation, oldest first, with what it changed."""
    names = store.generations()
    live = store.current_name()
    opened: dict[str, tuple[dict[str, Any], dict[str, str], list[str], Any]] = {}

    def facts(name: str):
        if name not in opened:
            snap = store.open_generation(name)
            index = {doc_id: h for doc_id, (h, _, _) in snap.document_index().items()}
            keys = [str(s.get("key")) for s in snap.manifest.get("sources") or [] if isinstance(s, dict)]
            opened[name] = (snap.manifest, index, keys, snap)
        return opened[name]

    out: list[GenerationChange] = []
    try:
        for i, name in enumerate(names):
            manifest, docs, keys, snap = facts(name)
            parent = manifest.get("parent")
            first = not parent and i == 0  # made from an empty collection: everything in it is new
            base = parent if parent in names else (names[i - 1] if i > 0 else ("" if first else None))
            if base is None:
                out.append(
                    GenerationChange(
                        name, str(manifest.get("action", "")), manifest.get("created"), name == live, len(docs), None
                    )
                )
                continue
            _, before, before_keys, before_snap = facts(base) if base else ({}, {}, [], None)
            added = tuple(sorted(set(docs) - set(before)))
            removed = tuple(sorted(set(before) - set(docs)))
            changed = tuple(sorted(d for d in set(docs) & set(before) if docs[d] != before[d]))
            named: dict[str, str] = {}
            if titles:
                named.update({d.id: d.title for d in snap.documents([*added, *changed])} if added or changed else {})
                named.update({d.id: d.title for d in before_snap.documents(removed)} if removed and base else {})
            out.append(
                GenerationChange(
                    name,
                    str(manifest.get("action", "")),
                    manifest.get("created"),
                    name == live,
                    len(docs),
                    base,
                    added,
                    removed,
                    changed,
                    tuple(k for k in keys if k not in before_keys),
                    tuple(k for k in before_keys if k not in keys),
                    named,
                )
            )
    finally:
        for *_, snap in opened.values():
            snap.close()
    return out


def change_of(store: Store, name: str) -> GenerationChange | None:
    """What generation ``name`` changed (None when it is not kept)."""
    return next((g for g in history(store, titles=False) if g.name == name), None)
