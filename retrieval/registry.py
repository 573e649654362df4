"""Name -> factory tables for every pluggable choice (embedding backends, vector-index kinds,
file readers, and later stores and engines).

One table per choice serves config validation, the CLI's option choices and the contract
tests, so adding a backend is one ``register`` call, never a name tuple plus an if-chain.
Factories import their heavy libraries inside themselves, so a registry is cheap to load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

F = TypeVar("F")


class Registry(Generic[F]):
    """An ordered table of named factories (or descriptions) of one kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, F] = {}

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator: ``@REGISTRY.register("name")`` above a factory."""

        def add(factory: F) -> F:
            self.add(name, factory)
            return factory

        return add

    def add(self, name: str, factory: F) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = factory

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def get(self, name: str) -> F:
        """The factory called ``name``; KeyError naming the choices when there is none."""
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"Unknown {self.kind} {name!r}: use one of {', '.join(self._entries)}.") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
