"""Modules marked pure import no I/O frameworks (DESIGN.md, Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "server"
PURE = ["audit/chain.py", "crypto/envelope.py", "identity/totp.py", "identity/ratelimit.py", "identity/scope.py",
        "identity/model.py", "web/frames.py", "web/strict.py", "clock.py", "errors.py", "ids.py", "text.py",
        "groups/model.py", "audit/purpose.py", "groups/session_machine.py", "groups/session_values.py",
        "groups/register.py", "groups/session_snapshot.py",
        "retention/plan.py", "retention/erasure.py",
        "scheduling/model.py", "scheduling/ics.py",
        "media/quality.py", "media/forwarding.py", "media/speaker.py", "media/sfu_events.py",
        # check-ins and signalling (issue 4)
        "checkins/lifecycle.py", "checkins/safe_space.py", "checkins/outcomes.py",
        "signalling/protocol.py", "signalling/lobby.py", "signalling/turn.py",
        # case networks (issue 16)
        "networks/machine.py", "networks/model.py", "networks/pdf.py", "mentoring/model.py", "web/schemas_mentoring.py",
        # backups (issue 15)
        "backup/windows.py", "backup/fileformat.py"]
FORBIDDEN = ("aiohttp", "sqlalchemy", "redis", "aiortc", "asyncpg", "aiosqlite", "asyncio")


@pytest.mark.parametrize("path", PURE)
def test_pure_module_imports(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text())
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN, f"{path} imports {name}"


def test_no_module_over_500_lines() -> None:
    long = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
            if "migrations/versions" not in str(p) and len(p.read_text().splitlines()) > 500]
    assert long == []
