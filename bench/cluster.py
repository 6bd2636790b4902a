"""Two nodes, one room (issue 15): what crossing nodes costs signalling, how long a takeover
and a drain take.

    .venv/bin/python bench/cluster.py [--samples 300] [--kills 10] [--drain-rooms 20] [--clients 50] [--group]

Two ``tandem serve`` processes (tests/helpers/nodes.py: the same command as the systemd unit)
on a fresh PostgreSQL database and a private ``redis-server``, on 127.0.0.1 only, with
``TANDEM_ROOM_LEASE_S=3``. Check-ins are set up through the API as ``bench/checkins.py`` does.

1. **Signalling latency, same run:** two calls homed on node A (the officer joins there
   first). In one the client is on node A too (``same_node``), in the other on node B
   (``cross_node``: each frame goes B -> Redis -> A and back). The client sends ``offer``
   frames to the officer one at a time, alternating between the two calls; we time send to
   receipt. Target: cross-node p99 <= 2 x same-node p99 + 5 ms.
2. **Takeover** (``--kills`` times, bench/cluster_media.py): the officer and the client are real
   aiortc peers in a video call, the officer on the room's home node, the client on the other;
   the home is killed with SIGKILL; both come back as client_web does (the client is told to
   ``reconnect`` when the lease lapses, the officer's socket reconnects to the surviving node;
   each joins again, retrying ``unavailable`` every 2 s, and re-creates its peer connections).
   Measured until audio and video RTP arrive again at both peers (``takeover_*``), until the
   first offer after the rejoin got through (``takeover_signal_*``, signalling only), and the
   longest stop of inbound media at each peer (``media_gap_*``). The killed node is started
   again before the next kill. Target: <= 10 s and within the grace period.
   Throughout the kills, ``--clients`` messaging clients (tests/helpers/messaging_load.py: one /ws
   each, spread over both nodes) send one message at a time; a client whose node died
   reconnects to a live one and resends what was not acknowledged with the same ``id``. After
   the last kill the conversations are read back: ``acked_lost`` (acknowledged, not stored) and
   ``acked_duplicates`` (stored twice). Target: both 0.
3. **Drain:** ``--drain-rooms`` calls homed on node A (officers on A, clients on B); node A gets
   SIGTERM; measured until A has exited (``drain_exit_s``) and until every call is back on node B
   with the officer's offer through (``drain_s``, target <= 30 s), counting calls that ended.

With ``--group``, bench/cluster_group.py's parts (group sessions: control round trip, takeover
with aiortc participants over ``--kills`` kills, drain) follow on the same nodes.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: server.*, tests.helpers.*

from _common import DEMO_PASSWORD, BenchError, emit, machine, median, percentile, rnd
from checkins import set_up
from cluster_media import media_takeovers

from tests.helpers import db
from tests.helpers.messaging_load import finish_load, start_load
from tests.helpers.nodes import Node, RedisServer, node_env, start_node

KEK = bytes(range(32))
LEASE_S = 3
GRACE_S = 30
RETRY_S = 1.0
NODE_ENV = {"TANDEM_ROOM_LEASE_S": str(LEASE_S), "TANDEM_CHECKIN_GRACE_S": str(GRACE_S),
            "TANDEM_WS_FRAME_RATE": "100000", "TANDEM_WS_FRAME_BURST": "100000", "TANDEM_DEMO": "true",
            "TANDEM_KEK": base64.b64encode(KEK).decode(), "TANDEM_DRAIN_TIMEOUT_S": "20"}
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@dataclass
class Ws:
    """One /ws connection of the bench, frames kept in order."""

    session: aiohttp.ClientSession
    url: str
    headers: dict[str, str]
    ws: Any = None
    frames: list[dict[str, Any]] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None
    taken: int = 0

    async def open(self) -> Ws:
        self.ws = await self.session.ws_connect(f"{self.url}/ws", headers=self.headers, heartbeat=None)
        await self.ws.send_json({"type": "hello"})
        self.reader = asyncio.create_task(self._read())
        await self.expect("welcome")
        return self

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            self.frames.append(json.loads(msg.data))
            self.arrived.append(loop.time())
            self.changed.set()
        self.frames.append({"type": "_closed"})
        self.arrived.append(loop.time())
        self.changed.set()

    async def send(self, **frame: Any) -> None:
        await self.ws.send_json(frame)

    async def expect(self, kind: str, within_s: float = 30.0, **match: Any) -> tuple[dict[str, Any], float]:
        """The next frame of ``kind`` after those already taken, and when it arrived."""
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            for i in range(self.taken, len(self.frames)):
                f = self.frames[i]
                if f.get("type") == kind and all(f.get(k) == v for k, v in match.items()):
                    self.taken = i + 1
                    return f, self.arrived[i]
            self.changed.clear()
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise BenchError(f"no {kind} within {within_s} s; last frames: {self.frames[-5:]}")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                continue

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


async def join(w: Ws, room: str, within_s: float = 60.0) -> dict[str, Any]:
    """``join`` until it is accepted, retrying ``unavailable`` as client_web does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    n = 0
    while True:
        n += 1
        ref = f"j{n}-{time.monotonic_ns()}"
        await w.send(type="join", room=room, id=ref)
        while True:
            f = None
            for i in range(w.taken, len(w.frames)):
                g = w.frames[i]
                if g.get("ref") == ref:
                    f = g
                    w.taken = i + 1
                    break
            if f is not None or loop.time() > deadline:
                break
            w.changed.clear()
            with_timeout = max(0.01, deadline - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(w.changed.wait(), with_timeout)
        if f is None:
            raise BenchError(f"join {room}: no answer within {within_s} s")
        if f["type"] == "joined":
            return f
        if f["type"] == "error" and f.get("code") == "unavailable" and loop.time() < deadline:
            await asyncio.sleep(RETRY_S)
            continue
        raise BenchError(f"join {room}: {f}")


async def into_call(session: aiohttp.ClientSession, officer_url: str, client_url: str,
                    call: tuple[str, dict[str, str], dict[str, str]]) -> tuple[Ws, Ws, str, str]:
    room, host, client = call
    off = await Ws(session, officer_url, host).open()
    cli = await Ws(session, client_url, client).open()
    joined = await join(off, room)
    waiting = await join(cli, room)
    await off.send(type="admit", room=room, participant=waiting["participant"])
    await cli.expect("admitted")
    return off, cli, joined["participant"], waiting["participant"]


async def latency(session: aiohttp.ClientSession, a: str, b: str, calls: list[Any], samples: int
                  ) -> dict[str, Any]:
    same = await into_call(session, a, a, calls[0])
    cross = await into_call(session, a, b, calls[1])
    times: dict[str, list[float]] = {"same_node": [], "cross_node": []}
    loop = asyncio.get_running_loop()
    for n in range(samples):
        for name, (off, cli, officer_p, _client_p) in (("same_node", same), ("cross_node", cross)):
            sent = loop.time()
            await cli.send(type="offer", room=calls[0 if name == "same_node" else 1][0], to=officer_p,
                           sdp=f"{SDP}a=bench:{n}\r\n")
            f, at = await off.expect("offer", within_s=10)
            if f"a=bench:{n}" not in f["sdp"]:
                raise BenchError(f"offers out of order: {f['sdp']!r}")
            times[name].append(at - sent)
    for off, cli, _, _ in (same, cross):
        await off.close()
        await cli.close()
    out: dict[str, Any] = {}
    for name, values in times.items():
        out[f"{name}_signal_p50_ms"] = rnd(1000 * median(values), 2)
        out[f"{name}_signal_p99_ms"] = rnd(1000 * percentile(values, 99), 2)
    return out


async def back_in_call(off: Ws, cli: Ws, room: str, url: str, session: aiohttp.ClientSession,
                       host: dict[str, str]) -> float:
    """After the officer's node went away: both rejoin on ``url``; the loop time the officer's offer arrives."""
    async def client_side() -> dict[str, Any]:
        await cli.expect("reconnect", within_s=GRACE_S)
        again = await join(cli, room)
        if again["state"] != "admitted":
            raise BenchError(f"the client came back {again['state']}, not admitted")
        admitted, _ = await cli.expect("admitted", within_s=GRACE_S)
        return admitted

    async def officer_side() -> Ws:
        # told to reconnect (a drain), or the connection dropped with its node (a kill)
        while not any(f.get("type") in ("reconnect", "_closed") for f in off.frames[off.taken:]):
            off.changed.clear()
            await asyncio.wait_for(off.changed.wait(), GRACE_S)
        await off.close()
        fresh = await Ws(session, url, host).open()
        again = await join(fresh, room)
        if again["state"] != "admitted":
            raise BenchError(f"the officer came back {again['state']}")
        return fresh

    cli_admitted, fresh = await asyncio.gather(client_side(), officer_side())
    # The later of the two to rejoin offers to the other: wait until an offer reached one of them.
    admitted, _ = await fresh.expect("admitted", within_s=GRACE_S)
    for peer in admitted["peers"]:
        await fresh.send(type="offer", room=room, to=peer, sdp=SDP)
    if admitted["peers"]:
        _, at = await cli.expect("offer", within_s=GRACE_S)
    else:
        for peer in cli_admitted["peers"]:
            await cli.send(type="offer", room=room, to=peer, sdp=SDP)
        _, at = await fresh.expect("offer", within_s=GRACE_S)
    await fresh.close()
    await cli.close()
    return at


async def drain(session: aiohttp.ClientSession, a: Node, b: Node, calls: list[Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    live = await asyncio.gather(*(into_call(session, a.url, b.url, c) for c in calls))
    started = loop.time()
    a.proc.terminate()
    exited = asyncio.create_task(asyncio.to_thread(a.proc.wait, 60))
    results = await asyncio.gather(*(back_in_call(off, cli, c[0], b.url, session, c[1])
                                     for (off, cli, _, _), c in zip(live, calls, strict=True)),
                                   return_exceptions=True)
    await exited
    exit_s = loop.time() - started
    done = [r for r in results if isinstance(r, float)]
    failed = [repr(r) for r in results if not isinstance(r, float)]
    if failed:
        print(f"drain: {len(failed)} calls not back; node A's log:\n{a.log_tail(80)}", file=sys.stderr)
    return {"drain_rooms": len(calls), "drain_s": rnd(max(done) - started, 2) if done else None,
            "drain_exit_s": rnd(exit_s, 2), "drain_rooms_ended": len(failed), "drain_failures": failed[:3]}


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    started = time.monotonic()
    redis = RedisServer(workdir / "redis")
    name = f"tandem_bench_cluster_{os.getpid()}"
    database_url = db.create_pg_database(name)
    redis.start()
    extra = dict(NODE_ENV)
    if args.group:
        from cluster_group import GROUP_EXTRA
        extra.update(GROUP_EXTRA)
    env = node_env(database_url=database_url, redis_url=redis.url, kek=KEK, extra=extra)
    nodes: list[Node] = []

    def restart(node_name: str) -> Node:
        node = start_node(node_name, workdir, {**env, "TANDEM_NODE_ID": node_name})
        node.wait_ready(90)
        nodes.append(node)
        return node

    try:
        a = restart("a")
        b = restart("b")
        result: dict[str, Any] = {"bench": "cluster", "machine": machine(), "lease_s": LEASE_S, "grace_s": GRACE_S}
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            needed = 2 + args.kills + args.drain_rooms
            calls = await set_up(session, a.url, needed)
            result.update(await latency(session, a.url, b.url, calls[:2], args.samples))
            result["target_cross_le_2x_same_plus_5ms"] = (
                result["cross_node_signal_p99_ms"] <= 2 * result["same_node_signal_p99_ms"] + 5)
            pair = [a, b]
            if args.kills:
                load = await start_load(session, pair, args.clients, password=DEMO_PASSWORD) if args.clients else None
                result.update(await media_takeovers(session, pair, calls[2:2 + args.kills], args.kills, restart,
                                                     GRACE_S))
                result["target_takeover_le_10s"] = result["takeover_p95_s"] <= 10
                if load is not None:
                    result.update(await finish_load(session, pair, *load))
                    result["target_no_acked_lost_or_duplicated"] = (
                        result["acked_lost"] == 0 and result["acked_duplicates"] == 0)
            if args.drain_rooms:
                result.update(await drain(session, pair[0], pair[1], calls[2 + args.kills:]))
                result["target_drain_le_30s"] = (result["drain_s"] is not None and result["drain_s"] <= 30
                                                 and result["drain_rooms_ended"] == 0)
            if args.group:  # bench/cluster_group.py's parts on the same two nodes
                from cluster_group import group_parts
                if not pair[0].alive():  # stopped by the drain above
                    pair[0] = await asyncio.to_thread(restart, "a.after-drain")
                group_args = argparse.Namespace(samples=args.group_samples, kills=args.kills,
                                                drain_sessions=args.group_drain_sessions, participants=3)
                result.update(await group_parts(session, pair, restart, group_args))
        result["ok"] = all(v for k, v in result.items() if k.startswith("target_"))
        result["elapsed_s"] = rnd(time.monotonic() - started, 1)
        return result
    finally:
        for node in nodes:
            node.stop(timeout=30)
        redis.stop()
        db.drop_pg_database(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--drain-rooms", type=int, default=20)
    parser.add_argument("--clients", type=int, default=50, help="messaging clients sending through the kills")
    parser.add_argument("--group", action="store_true",
                        help="then bench/cluster_group.py's parts on the same nodes (--kills kills)")
    parser.add_argument("--group-samples", type=int, default=200)
    parser.add_argument("--group-drain-sessions", type=int, default=5)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tandem-bench-cluster-") as tmp:
        try:
            result = asyncio.run(asyncio.wait_for(run(args, Path(tmp)), timeout=900 + 900 * args.group))
        except (BenchError, TimeoutError, AssertionError, aiohttp.ClientError, RuntimeError) as err:
            emit({"bench": "cluster", "ok": False, "error": f"{type(err).__name__}: {err}",
                  "elapsed_s": rnd(time.monotonic() - started, 1)})
            return 1
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
