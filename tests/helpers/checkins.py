"""Check-in test helpers: scheduling through the action function, the safe-space check
through the REST API, and /ws clients that read until the frame they expect."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from server.web.state import Services
from tests.helpers.world import World, login


async def schedule(services: Services, w: World, *, case: str = "own", by: str = "officer",
                   starts_in: timedelta = timedelta(minutes=-5), length: timedelta = timedelta(hours=1)) -> str:
    start = services.clock.now() + starts_in
    done = await services.checkins.schedule_checkin(w.actor(by), w.cases[case], start, start + length)
    return str(done.row.id)


async def view(client: Any, checkin_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """GET /api/checkins/{id}, by default as the officer of case "own"."""
    resp = await client.get(f"/api/checkins/{checkin_id}", headers=headers or await login(client, "officer"))
    body: dict[str, Any] = await resp.json()
    assert resp.status == 200, body
    return body


async def pass_safe_space(client: Any, headers: dict[str, str], checkin_id: str) -> None:
    resp = await client.get(f"/api/checkins/{checkin_id}/safe-space", headers=headers)
    body = await resp.json()
    assert resp.status == 200, body
    answers = {q["id"]: True for q in body["questions"]}
    resp = await client.post(f"/api/checkins/{checkin_id}/safe-space", headers=headers, json={"answers": answers})
    assert resp.status == 200 and (await resp.json())["passed"], await resp.text()


@dataclass
class Peer:
    """One /ws connection; ``seen`` keeps every frame received, in order."""

    ws: Any
    seen: list[dict[str, Any]] = field(default_factory=list)
    taken: set[int] = field(default_factory=set)

    async def send(self, **frame: Any) -> None:
        await self.ws.send_json(frame)

    async def next(self, kind: str, wait_s: float = 5.0, **match: Any) -> dict[str, Any]:
        """The first frame of ``kind`` (and matching fields) not returned before, waiting for it."""
        async def read() -> dict[str, Any]:
            while True:
                for i, f in enumerate(self.seen):
                    if i not in self.taken and f.get("type") == kind and all(f.get(k) == v for k, v in match.items()):
                        self.taken.add(i)
                        return f
                self.seen.append(await self.ws.receive_json())
        return await asyncio.wait_for(read(), wait_s)

    async def drain(self, quiet_s: float = 0.3) -> None:
        """Read whatever arrives until the connection is quiet."""
        try:
            while True:
                self.seen.append(await self.ws.receive_json(timeout=quiet_s))
        except TimeoutError:
            return

    async def close(self) -> None:
        await self.ws.close()


async def peer(client: Any, headers: dict[str, str]) -> Peer:
    ws = await client.ws_connect("/ws", headers=headers)
    await ws.send_json({"type": "hello"})
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome", welcome
    return Peer(ws)


async def ready(client: Any, username: str, checkin_id: str) -> tuple[dict[str, str], Peer]:
    """Signed in, safe-space check passed, /ws open."""
    headers = await login(client, username)
    await pass_safe_space(client, headers, checkin_id)
    return headers, await peer(client, headers)


async def in_call(client: Any, checkin_id: str, *, officer: str = "officer", client_user: str = "client"
                  ) -> tuple[Peer, Peer, dict[str, Any], dict[str, Any]]:
    """Officer joined and admitted the client; returns (officer, client, officer's joined, client's admitted)."""
    _, off = await ready(client, officer, checkin_id)
    _, cli = await ready(client, client_user, checkin_id)
    await off.send(type="join", room=checkin_id)
    joined = await off.next("joined")
    await cli.send(type="join", room=checkin_id)
    waiting = await cli.next("joined")
    assert waiting["state"] == "waiting"
    await off.send(type="admit", room=checkin_id, participant=waiting["participant"])
    admitted = await cli.next("admitted")
    return off, cli, joined, admitted
