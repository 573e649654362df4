"""The docs agree with the tree (as sqlite-utils' test_docs.py does for its commands):
every module is on the map, every measurement script is in benchmarks/README.md, and
docs/ holds prose only."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT

MAP = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
PACKAGES = ("retrieval", "bot", "webdesk")


def _modules() -> list[str]:
    """Every module as its dotted name, packages as their own name (no __init__)."""
    found = []
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            parts = file.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def _marker(package: list[str]) -> tuple[str, ...]:
    """How the map heads a package's paragraph: ``**query/**``, `` `store/folder/`: ``
    (paths inside ``retrieval/``), or ``(`retrieval/`)`` for the library's own modules."""
    if package == ["retrieval"]:
        return ("(`retrieval/`)",)
    rel = "/".join(package[1:] if package[0] == "retrieval" else package)
    return (f"**{rel}/**", f"`{rel}/`:")


def _named(module: str) -> bool:
    """Named on the map: by its path (``retrieval/query/service.py``), or as `` `name` `` in
    the paragraph its package heads; a package by its paragraph's heading."""
    parts = module.split(".")
    if f"{'/'.join(parts)}.py" in MAP:
        return True
    blocks = re.split(r"\n\s*\n", MAP)
    if (ROOT / "/".join(parts)).is_dir():
        return len(parts) == 1 or any(m in MAP for m in _marker(parts))
    package, name = parts[:-1], parts[-1]
    return any(any(m in b for m in _marker(package)) and f"`{name}`" in b for b in blocks)


@pytest.mark.parametrize("module", _modules())
def test_every_module_is_on_the_map(module):
    assert _named(module), f"{module} is not named in docs/architecture.md"


def test_every_measurement_script_is_in_the_benchmarks_readme():
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    scripts = [p.name for p in (ROOT / "benchmarks").glob("*.py") if p.name != "__init__.py"]
    assert scripts
    assert [s for s in scripts if f"`{s}`" not in readme] == []


def test_scripts_holds_only_the_three_commands_and_docs_only_prose():
    assert sorted(p.name for p in (ROOT / "scripts").iterdir()) == ["ask", "setup", "test"]
    assert [p.name for p in (ROOT / "docs").iterdir() if p.suffix == ".json"] == []


def test_results_are_named_by_benchmark_store_and_date():
    pattern = re.compile(r"^[a-z0-9][A-Za-z0-9.-]*-(folder|postgresql|both)-\d{4}-\d{2}-\d{2}\.json$")
    names = [p.name for p in (ROOT / "benchmarks" / "results").glob("*.json")]
    assert names and [n for n in names if not pattern.match(n)] == []
