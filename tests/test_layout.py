"""Imports point inward: the simulator never uses the client code; the limiter stands alone."""

from __future__ import annotations

import ast
from pathlib import Path

import backbeat

PACKAGE = Path(backbeat.__file__).parent
# What the simulator may use of backbeat: its own modules and the foundation.
SIMULATOR_MAY_IMPORT = (
    "backbeat.simulator",
    "backbeat.config",
    "backbeat.clock",
    "backbeat.errors",
)


def _backbeat_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name.split(".")[0] == "backbeat"}


def test_the_simulator_imports_only_itself_and_the_foundation() -> None:
    modules = sorted((PACKAGE / "simulator").rglob("*.py"))
    assert len(modules) > 10
    offending = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules
        for name in _backbeat_imports(path)
        if not name.startswith(SIMULATOR_MAY_IMPORT)
    }
    assert not offending


def test_ratelimit_imports_nothing_else_of_backbeat() -> None:
    modules = sorted((PACKAGE / "ratelimit").rglob("*.py"))
    offending = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules
        for name in _backbeat_imports(path)
        if not name.startswith("backbeat.ratelimit")
    }
    assert not offending


def test_no_utils_modules() -> None:
    assert not [p for p in PACKAGE.rglob("*.py") if p.stem in ("utils", "helpers", "misc")]
