"""The engine is pure: none of its modules may import I/O or clock machinery."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "server" / "policy"
PURE = sorted(
    path
    for path in PACKAGE.rglob("*.py")
    # service.py and store.py are the asyncio shell around the engine, not the engine.
    if path.name not in {"service.py", "store.py"}
)
FORBIDDEN = {"aiohttp", "sqlalchemy", "redis", "aiortc", "asyncio", "time", "socket", "server.store"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_policy_modules_import_nothing_impure(path: Path) -> None:
    impure = {name for name in _imports(path) for bad in FORBIDDEN if name == bad or name.startswith(bad + ".")}
    assert impure == set()


def test_nobody_reads_the_wall_clock() -> None:
    for path in PURE:
        text = path.read_text(encoding="utf-8")
        assert ".now(" not in text, path
        assert "utcnow" not in text, path
