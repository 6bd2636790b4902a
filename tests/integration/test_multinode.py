"""Two real ``tandem serve`` nodes on one PostgreSQL database and one Redis.

(a) A client on node A and their officer on node B talk both ways, live.
(b) A message stored while Redis is down reaches a member who sends nothing after
    (the node asks its connections to resume once its bus is back).
    And a retry racing its original on the other node gets the original's ack.
    And a member connected to node B gets node A's message live and no Web Push;
    once offline everywhere, they get one.
(c) Chaos: 50 WebSocket clients (the client and the officer of 25 case conversations),
    spread over both nodes, each send 20 messages while Redis is stopped and started
    three times and clients drop their own connections now and then. Clients behave as
    docs/protocol.md asks: reconnect with ``hello.resume``, retry an unacknowledged send
    with the same id, page ``GET /api/conversations/{id}/messages`` on a gap or a
    ``resync``. Afterwards every acknowledged message is held by every member exactly
    once, in seq order, and every member's list equals the store's history.

Redis is a private ``redis-server`` on a free port (tests/helpers/nodes.py), so stopping
it never disturbs the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from server.app import create_app
from server.identity.model import Role
from server.identity.passwords import Passwords
from server.messaging import store as messaging_store
from server.web.state import SERVICES
from tests.conftest import TEST_KEK, make_settings
from tests.helpers import db
from tests.helpers.nodes import Node, RedisServer, node_env, start_node
from tests.helpers.services import require_postgres
from tests.helpers.world import PASSWORD, build
from tests.integration.test_push import Browser, start_push_endpoint

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CHAOS_CASES = 25
SENDS_PER_CLIENT = 20
REDIS_OUTAGES = 3
REDIS_DOWN_S = 1.0
CLIENT_DROP_P = 0.05  # a client closes its own connection right after a send, before the ack
TIMEOUT = aiohttp.ClientTimeout(total=15)


# -- the cluster ---------------------------------------------------------------------------


@dataclass
class Member:
    username: str
    user_id: str
    token: str


@dataclass
class Cluster:
    nodes: list[Node]
    redis: RedisServer
    members: dict[str, Member]  # username -> member
    conversations: dict[str, str]  # username -> the id of their (one) case conversation
    chaos_pairs: list[tuple[str, str]]  # (client username, officer username), one per chaos case
    database_url: str

    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def wait_bus_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while node.ready() is None:
                assert node.alive(), f"node {node.name} died:\n{node.log_tail()}"
                assert time.monotonic() < deadline, f"node {node.name} not ready:\n{node.log_tail()}"
                time.sleep(0.05)


async def _seed(database_url: str, data_dir: Path) -> tuple[dict[str, Member], dict[str, str], list[tuple[str, str]]]:
    """The world plus CHAOS_CASES cases (each with its own officer and a face-to-face meeting), built through
    the action functions on an in-process app over the same database; bearer sessions through login. Passwords
    are hashed cheaply here only (the nodes verify any argon2 hash whatever its cost)."""
    app = create_app(make_settings(database_url, data_dir), passwords=Passwords(memory_cost=8, time_cost=1))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        services = app[SERVICES]
        w = await build(services)
        senior = w.actor("senior")
        now = services.clock.now()
        pairs: list[tuple[str, str]] = []
        usernames = ["client", "officer"]
        for i in range(CHAOS_CASES):
            officer_name, client_name = f"chaos_officer{i}", f"chaos_client{i}"
            officer_id = await services.identity.create_user(
                None, username=officer_name, display_name=f"Officer {i}", role=Role.OFFICER,
                office_id=w.offices["A"], password=PASSWORD)
            created = await services.cases.create_case(
                senior, client_username=client_name, client_display_name=f"Client {i}", officer_id=officer_id,
                password=PASSWORD)
            await services.cases.record_face_to_face(senior, created.case_id, met_at=now - timedelta(days=1),
                                                     location="Office A")
            pairs.append((client_name, officer_name))
            usernames += [client_name, officer_name]
        members: dict[str, Member] = {}
        conversations: dict[str, str] = {}
        for username in usernames:
            result = await services.identity.login(username, PASSWORD, address="127.0.0.1", kind="bearer")
            members[username] = Member(username, result.actor.user_id, result.token)
        async with services.store.read("test.conversations") as conn:
            for username, member in members.items():
                rows = await messaging_store.conversations_of(conn, member.user_id)
                case_rows = [r for r in rows if r.kind == "case"]
                assert len(case_rows) == 1, (username, rows)
                conversations[username] = str(case_rows[0].id)
        return members, conversations, pairs
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_postgres()
    workdir = tmp_path_factory.mktemp("multinode")
    name = f"tandem_multinode_{db.pg_name().removeprefix('tandem_test_')}"
    database_url = db.create_pg_database(name)
    redis = RedisServer(workdir / "redis")
    nodes: list[Node] = []
    try:
        members, conversations, pairs = db._in_thread(lambda: asyncio.run(_seed(database_url, workdir / "seed")))
        redis.start()
        env = node_env(database_url=database_url, redis_url=redis.url, kek=TEST_KEK)
        nodes = [start_node(n, workdir, env) for n in ("node-a", "node-b")]
        for node in nodes:
            node.wait_ready()
        yield Cluster(nodes, redis, members, conversations, pairs, database_url)
        for node in nodes:
            assert node.alive(), f"node {node.name} died:\n{node.log_tail()}"
            tracebacks = node.log_text().count("Traceback")
            assert tracebacks == 0, f"node {node.name} logged {tracebacks} traceback(s):\n{node.log_tail(120)}"
    finally:
        for node in nodes:
            node.stop()
        redis.stop()
        db.drop_pg_database(name)


# -- a protocol-following client -------------------------------------------------------------


class ConnectionLost(Exception):
    pass


class ServerError(Exception):
    def __init__(self, frame: dict[str, Any]) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.frame = frame


def _key(m: dict[str, Any]) -> tuple[int, str, str, str, str]:
    return int(m["seq"]), m["id"], m["sender_id"], m["kind"], m["body"]


@dataclass
class Client:
    """One member's WebSocket, as docs/protocol.md asks a client to behave.

    It holds messages per conversation by seq, resumes with the highest seq it holds
    without a gap, pages history over REST on a gap or a ``resync``, and retries an
    unacknowledged send with the same id after reconnecting."""

    member: Member
    conversations: list[str]
    urls: list[str]
    node: int
    session: aiohttp.ClientSession
    rng: random.Random
    switch_nodes: bool = False
    msgs: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    acks: dict[str, tuple[str, int]] = field(default_factory=dict)  # client id -> (conversation, seq)
    bodies: dict[str, str] = field(default_factory=dict)  # client id -> body
    errors: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        for c in self.conversations:
            self.msgs.setdefault(c, {})
            self.held.setdefault(c, 0)
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.open = asyncio.Event()
        self.pending: dict[str, asyncio.Future[int]] = {}
        self._fillers: dict[str, asyncio.Task[None]] = {}
        self._refill: set[str] = set()
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.member.token}"}

    @property
    def url(self) -> str:
        return self.urls[self.node]

    # connection

    def start(self) -> None:
        self._task = asyncio.create_task(self._connection_loop(), name=f"client-{self.member.username}")

    async def close(self) -> None:
        self._stop = True
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            await self._task
        for t in self._fillers.values():
            t.cancel()
        await asyncio.gather(*self._fillers.values(), return_exceptions=True)

    async def _connection_loop(self) -> None:
        first = True
        while not self._stop:
            if not first:
                self.stats["reconnects"] += 1
                await asyncio.sleep(self.rng.uniform(0.05, 0.3))
                if self.switch_nodes and self.rng.random() < 0.5:
                    self.node = 1 - self.node
            first = False
            try:
                ws = await self.session.ws_connect(f"{self.url}/ws", headers=self.headers, autoping=True)
            except (aiohttp.ClientError, OSError, TimeoutError):
                self.stats["connect_failures"] += 1
                continue
            self.ws = ws
            try:
                await ws.send_json({"type": "hello", "resume": dict(self.held)})
                async for msg in ws:
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    self._on_frame(json.loads(msg.data))
            except (aiohttp.ClientError, OSError, RuntimeError):
                self.stats["read_errors"] += 1
            finally:
                self.open.clear()
                self.ws = None
                with contextlib.suppress(Exception):
                    await ws.close()
                if ws.close_code is not None:
                    self.stats[f"closed_{ws.close_code}"] += 1
                for fut in self.pending.values():
                    if not fut.done():
                        fut.set_exception(ConnectionLost())
                self.pending.clear()

    def _on_frame(self, f: dict[str, Any]) -> None:
        kind = f["type"]
        if kind == "welcome":
            self.open.set()
        elif kind == "ack":
            fut = self.pending.pop(f["id"], None)
            if fut is not None and not fut.done():
                fut.set_result(int(f["seq"]))
        elif kind == "message":
            self.stats["live_or_replayed"] += 1
            self._hold(f["conversation_id"], f)
        elif kind == "resync":
            self.stats["resyncs"] += 1
            self._fill(f["conversation_id"])
        elif kind == "error":
            self.errors.append(f)
            fut = self.pending.pop(f.get("ref") or "", None)
            if fut is not None and not fut.done():
                fut.set_exception(ServerError(f))

    def _hold(self, conversation_id: str, m: dict[str, Any]) -> None:
        held = self.msgs.get(conversation_id)
        if held is None:
            self.mismatches.append(f"message for a conversation not ours: {m}")
            return
        seq = int(m["seq"])
        if seq in held:
            self.stats["duplicates_on_wire"] += 1
            if _key(held[seq]) != _key(m):
                self.mismatches.append(f"seq {seq} arrived twice with different content: {held[seq]} / {m}")
            return
        if seq < self.held[conversation_id] or (held and seq < max(held)):
            self.stats["out_of_order"] += 1
        held[seq] = m
        while self.held[conversation_id] + 1 in held:
            self.held[conversation_id] += 1
        if seq > self.held[conversation_id]:
            self.stats["gaps_seen"] += 1
            self._fill(conversation_id)

    # history paging

    def _fill(self, conversation_id: str) -> None:
        task = self._fillers.get(conversation_id)
        if task is not None and not task.done():
            self._refill.add(conversation_id)
            return
        self._fillers[conversation_id] = asyncio.create_task(self._fill_loop(conversation_id))

    async def _fill_loop(self, conversation_id: str) -> None:
        while True:
            page = await self.history(conversation_id, self.held[conversation_id])
            self.stats["history_pages"] += 1
            for m in page:
                self._hold(conversation_id, {**m, "conversation_id": conversation_id})
            if len(page) == 200:
                continue
            if conversation_id in self._refill:
                self._refill.discard(conversation_id)
                continue
            return

    async def history(self, conversation_id: str, after_seq: int) -> list[dict[str, Any]]:
        """One page of history from the client's current node, retried while that node is busy or restarting."""
        for attempt in range(50):
            try:
                async with self.session.get(f"{self.url}/api/conversations/{conversation_id}/messages",
                                            params={"after_seq": after_seq, "limit": 200},
                                            headers=self.headers) as resp:
                    body = await resp.json()
                    if resp.status == 200:
                        page: list[dict[str, Any]] = body["messages"]
                        return page
                    self.errors.append({"http": resp.status, **body})
            except (aiohttp.ClientError, OSError, TimeoutError):
                self.stats["history_errors"] += 1
            await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError(f"{self.member.username}: history of {conversation_id} unavailable")

    async def full_history(self, conversation_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = await self.history(conversation_id, out[-1]["seq"] if out else 0)
            out += page
            if len(page) < 200:
                return out

    # sending

    async def send(self, conversation_id: str, client_id: str, body: str, *, drop_p: float = 0.0) -> int:
        """Send until acknowledged: after a lost connection (or a refused attempt) the same id again."""
        self.bodies[client_id] = body
        attempts = 0
        while True:
            await asyncio.wait_for(self.open.wait(), 30)
            ws = self.ws
            if ws is None or ws.closed:
                await asyncio.sleep(0.01)
                continue
            fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self.pending[client_id] = fut
            attempts += 1
            if attempts > 1:
                self.stats["same_id_retries"] += 1
            try:
                await ws.send_json({"type": "send", "id": client_id, "conversation_id": conversation_id,
                                    "body": body})
            except (aiohttp.ClientError, OSError, RuntimeError):
                self.pending.pop(client_id, None)
                continue
            if drop_p and self.rng.random() < drop_p:
                self.stats["own_drops"] += 1
                await ws.close()
            try:
                seq = await asyncio.wait_for(fut, 20)
            except ConnectionLost:
                continue
            except ServerError:
                await asyncio.sleep(0.2)
                continue
            self.acks[client_id] = (conversation_id, seq)
            return seq

    def holds(self, conversation_id: str, seq: int) -> bool:
        return self.held[conversation_id] >= seq


async def until(cond: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


# -- (a) live, both ways, across nodes ---------------------------------------------------------


async def test_client_on_one_node_and_officer_on_the_other_talk_live(cluster: Cluster) -> None:
    cluster.wait_bus_healthy()
    conv = cluster.conversations["client"]
    assert cluster.conversations["officer"] == conv
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        rng = random.Random(1)
        client = Client(cluster.members["client"], [conv], cluster.urls(), 0, session, rng)
        officer = Client(cluster.members["officer"], [conv], cluster.urls(), 1, session, rng)
        for c in (client, officer):
            c.start()
            await asyncio.wait_for(c.open.wait(), 10)
        try:
            seq = await client.send(conv, "a-1", "Hello from node A")
            await until(lambda: officer.holds(conv, seq), 5, "the officer (node B) to receive the client's message")
            assert officer.msgs[conv][seq]["body"] == "Hello from node A"
            seq2 = await officer.send(conv, "b-1", "Hello from node B")
            assert seq2 == seq + 1
            await until(lambda: client.holds(conv, seq2), 5, "the client (node A) to receive the officer's reply")
            assert client.msgs[conv][seq2]["body"] == "Hello from node B"
            # Live: nobody reconnected or paged history to get these.
            for c in (client, officer):
                assert c.stats["reconnects"] == 0 and c.stats["history_pages"] == 0, c.stats
                assert c.errors == [] and c.mismatches == []
        finally:
            await client.close()
            await officer.close()


# -- (b) a message stored while the bus is down still arrives ----------------------------------


async def test_message_stored_while_redis_is_down_reaches_a_member_who_sends_nothing(cluster: Cluster) -> None:
    cluster.wait_bus_healthy()
    conv = cluster.conversations["client"]
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        rng = random.Random(2)
        client = Client(cluster.members["client"], [conv], cluster.urls(), 0, session, rng)
        officer = Client(cluster.members["officer"], [conv], cluster.urls(), 1, session, rng)
        for c in (client, officer):
            c.start()
            await asyncio.wait_for(c.open.wait(), 10)
        try:
            await asyncio.to_thread(cluster.redis.stop)
            try:
                # Stored and acknowledged; the publish fails (Redis is down) without failing the send.
                started = time.monotonic()
                seq = await officer.send(conv, "down-1", "Sent while the bus was down")
                assert time.monotonic() - started < 3, "a bus outage must not hold up the send's ack"
                await asyncio.sleep(0.3)
                assert not client.holds(conv, seq)
            finally:
                await asyncio.to_thread(cluster.redis.start)
            # The client sends nothing and sees no later message: node A must tell it to resume.
            await until(lambda: client.holds(conv, seq), 15, "the message stored during the outage to arrive")
            assert client.msgs[conv][seq]["body"] == "Sent while the bus was down"
            assert client.errors == [] and client.mismatches == []
        finally:
            await client.close()
            await officer.close()
        await asyncio.to_thread(cluster.wait_bus_healthy)


# -- a retry racing its original on the other node ----------------------------------------------


async def test_a_retry_racing_its_original_on_the_other_node_gets_the_same_ack(cluster: Cluster) -> None:
    """The same (sender, id) arriving on both nodes at once is stored once and acknowledged twice
    with the same seq (the second insert hits the unique index: that is a retry, not a conflict)."""
    cluster.wait_bus_healthy()
    member = cluster.members["officer"]
    conv = cluster.conversations["officer"]
    headers = {"Authorization": f"Bearer {member.token}"}
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        sockets = [await session.ws_connect(f"{url}/ws", headers=headers) for url in cluster.urls()]
        try:
            for ws in sockets:
                await ws.send_json({"type": "hello"})
                assert (await ws.receive_json(timeout=10))["type"] == "welcome"

            async def answer(ws: aiohttp.ClientWebSocketResponse, client_id: str) -> dict[str, Any]:
                while True:
                    frame: dict[str, Any] = await ws.receive_json(timeout=10)
                    if frame["type"] in ("ack", "error") and client_id in (frame.get("id"), frame.get("ref")):
                        return frame

            seqs = []
            for n in range(15):
                client_id = f"race-{n}"
                frame = {"type": "send", "id": client_id, "conversation_id": conv, "body": f"race {n}"}
                await asyncio.gather(*(ws.send_json(frame) for ws in sockets))
                answers = await asyncio.gather(*(answer(ws, client_id) for ws in sockets))
                assert [a["type"] for a in answers] == ["ack", "ack"], answers
                assert answers[0]["seq"] == answers[1]["seq"], answers
                seqs.append(answers[0]["seq"])
            assert seqs == sorted(set(seqs))  # 15 messages, each stored once
        finally:
            for ws in sockets:
                await ws.close()


# -- Web Push only for who was not reached on any node ---------------------------------------------

PUSH_GRACE_S = 0.5  # a push node A would send goes out within milliseconds of the ack


async def test_a_member_connected_to_the_other_node_gets_no_push_until_offline(
        cluster: Cluster, aiohttp_client: Any, aiohttp_server: Any, tmp_path: Path) -> None:
    """The officer sends through node A; the client is connected to node B. Node A has no connection
    of the client, but Redis says its publish reached node B: no push. Once the client's last
    connection is gone, the next message is pushed."""
    cluster.wait_bus_healthy()
    conv = cluster.conversations["client"]
    member = cluster.members["client"]
    headers = {"Authorization": f"Bearer {member.token}"}
    endpoint = await start_push_endpoint(aiohttp_server)
    phone = Browser(f"{endpoint.base}/client-phone")
    # The nodes accept only the browsers' push services. A third, in-process node on the same database,
    # set up for tests, registers the loopback endpoint through the same route; the nodes push to what
    # is stored.
    registrar = await aiohttp_client(create_app(make_settings(cluster.database_url, tmp_path,
                                                              push_allow_loopback_http=True)))
    resp = await registrar.post("/api/push/subscriptions", json=phone.subscription(), headers=headers)
    assert resp.status == 204, await resp.text()
    admin = aioredis.from_url(cluster.redis.url)
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            rng = random.Random(4)
            client = Client(member, [conv], cluster.urls(), 1, session, rng)  # node B
            officer = Client(cluster.members["officer"], [conv], cluster.urls(), 0, session, rng)  # node A
            for c in (client, officer):
                c.start()
                await asyncio.wait_for(c.open.wait(), 10)
            try:
                seq = await officer.send(conv, "push-1", "Are you coming on Friday?")
                await until(lambda: client.holds(conv, seq), 5, "the client (node B) to receive the message")
                assert client.stats["history_pages"] == 0 and client.stats["reconnects"] == 0  # live
                await asyncio.sleep(PUSH_GRACE_S)
                assert endpoint.received == [], "pushed although the message reached the client on node B"
                await client.close()
                channel = f"tandem:user.{member.user_id}"
                deadline = time.monotonic() + 10
                while (await admin.pubsub_numsub(channel))[0][1] > 0:  # node B unsubscribes after the close
                    assert time.monotonic() < deadline, "node B never left the client's channel"
                    await asyncio.sleep(0.02)
                seq2 = await officer.send(conv, "push-2", "Call me back")
                assert seq2 == seq + 1
                await until(lambda: len(endpoint.received) > 0, 10, "node A to push to the offline client")
                await asyncio.sleep(PUSH_GRACE_S)
                [(_, body)] = endpoint.to("/client-phone")
                assert len(endpoint.received) == 1
                assert phone.decrypt(body) == {"type": "new_message", "conversation_id": conv}
            finally:
                await client.close()
                await officer.close()
    finally:
        await admin.aclose()
        await registrar.delete("/api/push/subscriptions", json={"endpoint": phone.endpoint}, headers=headers)


# -- (c) chaos ------------------------------------------------------------------------------------


async def _chaos_redis(redis: RedisServer, outages: int, down_s: float, up_s: float) -> None:
    for _ in range(outages):
        await asyncio.sleep(up_s)
        await asyncio.to_thread(redis.restart, down_s)


@pytest.mark.timeout(120)
async def test_chaos_every_acknowledged_message_reaches_every_member_once_in_order(cluster: Cluster) -> None:
    started = time.monotonic()
    cluster.wait_bus_healthy()
    urls = cluster.urls()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=TIMEOUT, connector=connector) as session:
        clients: list[Client] = []
        for i, (client_name, officer_name) in enumerate(cluster.chaos_pairs):
            conv = cluster.conversations[client_name]
            # The pair on different nodes for even i, the same node for odd i; clients change node on reconnect.
            for username, node in ((client_name, i % 2), (officer_name, 0 if i % 2 else 1)):
                clients.append(Client(cluster.members[username], [conv], urls, node, session,
                                      random.Random(f"{username}-seed"), switch_nodes=True))
        for c in clients:
            c.start()
        await until(lambda: all(c.open.is_set() for c in clients), 20, "50 connections to open")

        async def sender(c: Client) -> None:
            conv = c.conversations[0]
            for n in range(SENDS_PER_CLIENT):
                await c.send(conv, f"{c.member.username}-{n}", f"{c.member.username} says {n}", drop_p=CLIENT_DROP_P)
                await asyncio.sleep(c.rng.uniform(0.1, 0.6))

        chaos = asyncio.create_task(_chaos_redis(cluster.redis, REDIS_OUTAGES, REDIS_DOWN_S, up_s=1.5))
        try:
            await asyncio.wait_for(asyncio.gather(*(sender(c) for c in clients)), 60)
        finally:
            await chaos
        await asyncio.to_thread(cluster.wait_bus_healthy)

        # Every send was acknowledged. The store's last seq of each conversation is its number of messages.
        expected_last: dict[str, int] = Counter()
        for c in clients:
            assert len(c.acks) == SENDS_PER_CLIENT, (c.member.username, len(c.acks))
            for conv, _seq in c.acks.values():
                expected_last[conv] += 1
        # Every member converges through live delivery, resume and gap paging alone.
        try:
            await until(lambda: all(c.held[c.conversations[0]] >= expected_last[c.conversations[0]]
                                    for c in clients), 20, "every member to hold every message")
        except AssertionError:
            behind = {c.member.username: (c.held[c.conversations[0]], expected_last[c.conversations[0]], dict(c.stats))
                      for c in clients if c.held[c.conversations[0]] < expected_last[c.conversations[0]]}
            raise AssertionError(f"members behind (held, last): {behind}") from None

        for c in clients:
            conv = c.conversations[0]
            history = await c.full_history(conv)
            # The store: seq 1..last without a hole, each of the 40 sends of the pair stored exactly once.
            assert [m["seq"] for m in history] == list(range(1, expected_last[conv] + 1))
            ids = Counter((m["sender_id"], m["id"]) for m in history)
            assert all(n == 1 for n in ids.values()), [k for k, n in ids.items() if n > 1]
            # Every acknowledged send of this member is in the store at its acknowledged seq, as sent.
            by_seq = {m["seq"]: m for m in history}
            for client_id, (_conv, seq) in c.acks.items():
                stored = by_seq[seq]
                assert (stored["id"], stored["sender_id"], stored["body"]) == (
                    client_id, c.member.user_id, c.bodies[client_id])
            # The member holds exactly the store's history, once, in seq order.
            held = [c.msgs[conv][s] for s in sorted(c.msgs[conv])]
            assert [_key(m) for m in held] == [_key({**m, "conversation_id": conv}) for m in history], \
                c.member.username
            assert c.mismatches == [], c.mismatches
        # Both members of each conversation agree with each other (they each equal the store).
        assert sum(expected_last.values()) == len(clients) * SENDS_PER_CLIENT

        for c in clients:
            await c.close()

    totals: Counter[str] = Counter()
    for c in clients:
        totals.update(c.stats)
    errors = [e for c in clients for e in c.errors]
    summary = {"elapsed_s": round(time.monotonic() - started, 1), "redis_restarts": cluster.redis.restarts,
               **dict(sorted(totals.items())), "error_codes": dict(Counter(e.get("code") for e in errors))}
    print("chaos:", json.dumps(summary))
    # The chaos really happened: connections were lost and same-id retries were made.
    assert totals["same_id_retries"] > 0 and totals["reconnects"] > 0, summary
    # No refusal other than a transient database/bus answer, which the client retried.
    assert {e.get("code") for e in errors} <= {"unavailable"}, errors[:5]
    assert time.monotonic() - started < 90, summary
