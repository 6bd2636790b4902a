"""Nodes started together on a new database both store the policy files as version 1; one wins and
the other takes what it stored, instead of failing to start (found by `make cluster`, issue 15)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.app import create_app
from server.policy import store as policy_store
from server.web.state import SERVICES
from tests.conftest import make_settings


async def test_two_nodes_loading_policies_at_once_on_a_new_database_both_start(db_url: str, tmp_path: Path) -> None:
    nodes = [create_app(make_settings(db_url, tmp_path / str(i)))[SERVICES] for i in range(4)]
    try:
        async with nodes[0].store.read("test.policy.none") as conn:
            assert await policy_store.latest(conn) is None
        await asyncio.gather(*(n.policy.load() for n in nodes))
        assert {n.policy.meta.version for n in nodes} == {1}
        async with nodes[0].store.read("test.policy.one") as conn:
            assert await policy_store.latest_number(conn) == 1
            assert len(await policy_store.history(conn, limit=10)) == 1
    finally:
        for node in nodes:
            await node.store.engine.dispose()
