"""The one YAML loader: safe, and refusing aliases so an alias bomb cannot eat memory.

Config files, front matter, sidecars, sources files and question files all read YAML
through :func:`load`; :func:`problem` says what is wrong in a few words with its line.
"""

from __future__ import annotations

from typing import Any


def load(text: str) -> Any:
    """``yaml.safe_load`` without aliases (``*name``); raises ``yaml.YAMLError`` on bad input."""
    import yaml

    class _NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # type: ignore[override]
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=_NoAliasLoader)


def problem(exc: Exception) -> str:
    """A YAML error in a few words with its line, for messages to users."""
    mark = getattr(exc, "problem_mark", None)
    what = getattr(exc, "problem", None) or "invalid YAML"
    return f"{what} (line {mark.line + 1})" if mark else str(what)
