"""Generated frames thrown at the real /ws gateway: no crash, no state change, every
frame answered exactly once (issue 3, "Bad input")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.store.schema import audit_log, messages
from tests.conftest import make_settings
from tests.helpers import db
from tests.helpers.live import LiveServer
from tests.helpers.world import PASSWORD, build

TYPES = ["hello", "ping", "send", "receipt", "ack", "message", "welcome", "error", "resync", "", "SEND"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=True), st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                           max_leaves=12)
typed_frames = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={"id": json_values, "conversation_id": st.one_of(st.text(max_size=70), json_values),
              "body": st.one_of(st.text(max_size=50), json_values), "seq": json_values, "status": json_values,
              "kind": json_values, "resume": json_values, "extra": json_values},
)
raw_text = st.one_of(st.text(max_size=200), st.sampled_from(["{", "[]", "null", '{"type":1}', "\x00", "{}" * 50]))
frames = st.one_of(typed_frames.map(lambda f: json.dumps(f)), json_values.map(json.dumps), raw_text)


class Env:
    def __init__(self, live: LiveServer, token: str, conversation_id: str) -> None:
        self.live, self.token, self.conversation_id = live, token, conversation_id

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("<live gateway>")


@pytest.fixture(scope="module")
def env(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("frames")
    settings_ = make_settings(db.sqlite_copy(sqlite_template, tmp), tmp, ws_frame_rate=100_000,
                              ws_frame_burst=100_000)
    with LiveServer(settings_) as live:
        assert live.services is not None
        services = live.services

        async def seed() -> tuple[str, str]:
            await build(services)
            async with aiohttp.ClientSession() as s:
                r = await s.post(f"{live.url}/api/session",
                                 json={"username": "client", "password": PASSWORD, "kind": "bearer"})
                token = (await r.json())["token"]
                r = await s.get(f"{live.url}/api/conversations", headers={"Authorization": f"Bearer {token}"})
                conv = next(c["id"] for c in (await r.json())["conversations"] if c["kind"] == "case")
            return token, conv

        token, conv = live.run(seed)
        yield Env(live, token, conv)


async def counts(env: Env) -> tuple[int, int]:
    assert env.live.services is not None
    async with env.live.services.store.read("t") as conn:
        n_messages = (await conn.execute(select(func.count()).select_from(messages))).scalar_one()
        n_audit = (await conn.execute(select(func.count()).select_from(audit_log))).scalar_one()
    return int(n_messages), int(n_audit)


async def exchange(env: Env, sent: list[str]) -> None:
    before = await counts(env)
    async with aiohttp.ClientSession() as s, s.ws_connect(
            f"{env.live.url}/ws", headers={"Authorization": f"Bearer {env.token}"}) as ws:
        await ws.send_json({"type": "hello"})
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        for text in sent:
            await ws.send_str(text)
            reply = await ws.receive(timeout=5)
            if reply.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                assert len(text.encode()) > 16 * 1024, f"closed after {text!r}"
                return
            frame = json.loads(reply.data)
            assert frame["type"] in ("error", "pong"), (text, frame)
        # Exactly one answer each: nothing else is waiting.
        await ws.send_json({"type": "ping", "id": "end"})
        assert await ws.receive_json(timeout=5) == {"type": "pong", "id": "end"}
    assert await counts(env) == before


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=st.lists(frames, min_size=1, max_size=6))
def test_generated_frames_are_answered_and_change_nothing(env: Env, sent: list[str]) -> None:
    env.live.run(exchange(env, sent))


def test_server_still_serves_afterwards(env: Env) -> None:
    async def send_one() -> int:
        async with aiohttp.ClientSession() as s, s.ws_connect(
                f"{env.live.url}/ws", headers={"Authorization": f"Bearer {env.token}"}) as ws:
            await ws.send_json({"type": "hello"})
            await ws.receive_json(timeout=5)
            await ws.send_json({"type": "send", "id": "ok-1", "conversation_id": env.conversation_id, "body": "hi"})
            return int((await ws.receive_json(timeout=5))["seq"])

    assert env.live.run(send_one) == 1
