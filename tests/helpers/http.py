"""HTTP assertions shared by the integration tests: the JSON error shape, row counts of
every table to show that a refused request wrote nothing, a route's example body with its
placeholders filled in, and a client that sends from another address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import ClientSession, TCPConnector
from sqlalchemy import func, literal, select, union_all

from server.store.schema import metadata
from server.web.state import Services


async def error_of(resp: Any, status: int | None = None, code: str | None = None) -> dict[str, Any]:
    """The ``error`` object of a response, after checking it has the one error shape."""
    text = await resp.text()
    if status is not None:
        assert resp.status == status, f"{resp.method} {resp.url}: expected {status}, got {resp.status}: {text}"
    assert resp.content_type == "application/json", f"{resp.status} {resp.content_type}: {text[:200]}"
    body = await resp.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert set(err) <= {"code", "message", "rule_id", "reason", "params", "field"}, err
    assert isinstance(err["code"], str) and err["code"], err
    assert isinstance(err["message"], str) and err["message"], err
    if "reason" in err:  # a code a client words in its language, with plain values (issue 13)
        assert isinstance(err["reason"], str) and err["reason"], err
        assert all(isinstance(v, str | int) for v in err["params"].values()), err
    if "rule_id" in err and err["code"] == "policy_refused":
        assert "reason" in err, f"a policy refusal without its reason code: {err}"
    if code is not None:
        assert err["code"] == code, err
    return err


async def row_counts(services: Services) -> dict[str, int]:
    """Rows in every table of the schema (sessions included)."""
    counts = union_all(*(select(literal(t.name).label("name"), func.count().label("n")).select_from(t)
                         for t in metadata.sorted_tables))  # one round trip: probes count after every call
    async with services.store.read("test.row_counts") as conn:
        return {str(name): int(n) for name, n in (await conn.execute(counts)).all()}


def substitute(value: Any, names: dict[str, str]) -> Any:
    """``value`` (a route's example body) with every string found in ``names`` replaced."""
    if isinstance(value, dict):
        return {k: substitute(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


@asynccontextmanager
async def from_address(address: str) -> AsyncIterator[ClientSession]:
    """A client whose requests leave from another loopback address (127.0.0.0/8), which the
    server sees as their remote address: a second source for the throttles."""
    async with ClientSession(connector=TCPConnector(local_addr=(address, 0))) as session:
        yield session
