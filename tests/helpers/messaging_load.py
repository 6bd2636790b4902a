"""Messaging load across node kills and restarts (issue 15): is every acknowledged message
stored exactly once? Used by bench/cluster.py and tests/integration/test_rooms_sigterm.py.

``clients`` officer sessions each hold one /ws connection, spread over the nodes, and send to
the case conversations one message at a time (next after the ``ack``). When a connection
drops (its node was killed or drained) the client reconnects to a live node and resends
every un-acknowledged message with the same ``id`` (docs/protocol.md: a retried ``send`` is
acknowledged again with the same ``seq`` and never stored twice). At the end the
conversations are read back over HTTP: ``acked_lost`` counts acknowledged ids missing from
the store, ``acked_duplicates`` the ids stored more than once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import aiohttp

from tests.helpers.nodes import Node

PAUSE_S = 0.05
ACK_WAIT_S = 10.0


class LoadError(RuntimeError):
    """The load could not go on: no node took a client, or a send was refused."""


async def _api(session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str]) -> Any:
    async with session.request(method, url, headers=headers) as resp:
        if resp.status // 100 != 2:
            raise LoadError(f"{method} {url}: HTTP {resp.status}: {(await resp.text())[:300]}")
        return await resp.json()


async def _bearer(session: aiohttp.ClientSession, url: str, username: str, password: str) -> dict[str, str]:
    async with session.post(f"{url}/api/session",
                            json={"username": username, "password": password, "kind": "bearer"}) as resp:
        if resp.status // 100 != 2:
            raise LoadError(f"sign-in as {username}: HTTP {resp.status}")
        return {"Authorization": f"Bearer {(await resp.json())['token']}"}


class Sender:
    """One messaging client: sends one message at a time, resends what was not acknowledged."""

    def __init__(self, n: int, session: aiohttp.ClientSession, headers: dict[str, str], conversation: str,
                 nodes: list[Node]) -> None:
        self.n, self.session, self.headers, self.conversation, self.nodes = n, session, headers, conversation, nodes
        self.acked: set[str] = set()
        self.reconnects = 0
        self.count = 0

    async def _connect(self, prefer: int) -> Any:
        for attempt in range(200):
            node = self.nodes[(prefer + attempt) % len(self.nodes)]
            try:
                ws = await self.session.ws_connect(f"{node.url}/ws", headers=self.headers, heartbeat=None)
                await ws.send_json({"type": "hello"})
                msg = await ws.receive(timeout=10)
                if msg.type is aiohttp.WSMsgType.TEXT and json.loads(msg.data).get("type") == "welcome":
                    return ws
                await ws.close()
            except (aiohttp.ClientError, TimeoutError, OSError):
                pass
            await asyncio.sleep(0.2)
        raise LoadError(f"messaging client {self.n}: no node would take it")

    async def _send_until_acked(self, ws: Any, mid: str) -> bool:
        """True when ``mid`` was acknowledged on ``ws``; False when the connection went."""
        try:
            await ws.send_json({"type": "send", "id": mid, "conversation_id": self.conversation,
                                "body": f"bench {mid}"})
            while True:
                msg = await ws.receive(timeout=ACK_WAIT_S)
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    return False
                frame = json.loads(msg.data)
                if frame.get("type") == "ack" and frame.get("id") == mid:
                    return True
                if frame.get("type") == "error" and frame.get("ref") == mid:
                    raise LoadError(f"send {mid} refused: {frame}")
        except (aiohttp.ClientError, TimeoutError, ConnectionError, RuntimeError):
            return False

    async def run(self, stop: asyncio.Event) -> None:
        ws = await self._connect(self.n % 2)
        pending: str | None = None
        while not stop.is_set() or pending is not None:
            if pending is None:
                self.count += 1
                pending = f"b{self.n}-{self.count}"
            if await self._send_until_acked(ws, pending):
                self.acked.add(pending)
                pending = None
                await asyncio.sleep(PAUSE_S)
                continue
            # the node went (or the ack never came): the same id again, on whichever node answers
            await ws.close()
            self.reconnects += 1
            ws = await self._connect(self.n + self.reconnects)
        await ws.close()


async def start_load(session: aiohttp.ClientSession, nodes: list[Node], clients: int, *, password: str,
                     username: str = "officer") -> tuple[list[Sender], asyncio.Event, list[asyncio.Task[None]]]:
    """``clients`` senders going, over the case conversations ``username`` may send to.
    ``nodes`` is read at each reconnect: replace a restarted node in it."""
    base = nodes[0].url
    senders = []
    for n in range(clients):
        headers = await _bearer(session, base, username, password)
        if n == 0:
            convs = [c["id"] for c in (await _api(session, "GET", f"{base}/api/conversations", headers))
                     ["conversations"] if c["may_send"]]
            if not convs:
                raise LoadError(f"{username} has no conversation to send to")
        senders.append(Sender(n, session, headers, convs[n % len(convs)], nodes))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop)) for s in senders]
    return senders, stop, tasks


async def stored_ids(session: aiohttp.ClientSession, base: str, headers: dict[str, str],
                     conversation: str) -> list[str]:
    out: list[str] = []
    after = 0
    while True:
        page = await _api(session, "GET", f"{base}/api/conversations/{conversation}/messages"
                         f"?after_seq={after}&limit=200", headers)
        if not page["messages"]:
            return out
        out.extend(m["id"] for m in page["messages"])
        after = page["messages"][-1]["seq"]


async def finish_load(session: aiohttp.ClientSession, nodes: list[Node], senders: list[Sender],
                      stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> dict[str, Any]:
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    headers = senders[0].headers
    stored: Counter[str] = Counter()
    for conversation in sorted({s.conversation for s in senders}):
        stored.update(i for i in await stored_ids(session, nodes[0].url, headers, conversation)
                      if i.startswith("b"))
    acked = set().union(*(s.acked for s in senders))
    return {"messaging_clients": len(senders), "acked_messages": len(acked),
            "acked_lost": sum(1 for i in acked if stored[i] == 0),
            "acked_duplicates": sum(1 for i in stored if stored[i] > 1),
            "messaging_reconnects": sum(s.reconnects for s in senders)}
