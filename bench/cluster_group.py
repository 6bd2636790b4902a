"""Group sessions on two nodes (issue 15): what crossing nodes costs a control frame, how long a
takeover and a drain take, with real aiortc participants.

    .venv/bin/python bench/cluster_group.py [--samples 200] [--kills 10] [--drain-sessions 5] [--participants 3]

Two ``tandem serve`` nodes on a fresh PostgreSQL database and a private ``redis-server``
(bench/cluster.py's nodes and settings: lease 3 s, grace 30 s), the SFU's candidates on
127.0.0.1. Set up through the API: the demo facilitator opens a group, the demo officer opens a
case per participant and enrols it, each client sets a password with the case's enrolment code
and signs in, the facilitator sets a confidentiality agreement and every client accepts it; one
session (started 2 minutes ago, an hour long) per measurement. Everyone passes the session's
safe-space check before joining, as the web page does.

People are ``tests/helpers/groupclient.py`` clients: the web client's join, rejoin and retry
behaviour (client_web/group/core.js), each with an aiortc bot sending a tone of its own pitch and
a 160x120 video at 15 frames/s and receiving everyone else's (one audio and one video m-line per
other person). The facilitator joins first on the home node (so the session is homed there),
the participants alternate between the other node and the home, waiting in the lobby until the
facilitator admits them. "Media flowing" at a person means audio and video RTP payloads sent by
every other person's current peer connection have arrived at this person's current one.

1. **Control round trip, same run:** in one session, a participant on the home node and one on
   the other node take turns to raise and lower a hand (``group.hand``); each sample is from
   sending the frame until the sender gets the ``group.state`` showing it (``hands``). Target:
   cross-node p99 <= 2 x same-node p99 + 5 ms. Baseline for the takeover: ``group_start_s``,
   from the facilitator's first join until media flows at everyone in a fresh session.
2. **Takeover** (``--kills`` sessions, one each): the home node is killed with SIGKILL while
   media flows; the people whose socket died reconnect (socket.js back-off) to the other node,
   the others are told ``reconnect`` when the lease lapses; each joins again on a new peer
   connection, ``unavailable`` retried every 2 s. Measured from the kill until media flows at
   everyone on their new peer connections. Checked each kill: every rejoin answered ``present``
   (nobody in the lobby again, nobody in the facilitator's lobby list), the register (read
   through the survivor) has the interruption for every participant (the "interrupted ...
   resumed" reason) and suggests nobody absent. The killed node is started again before the
   next kill. Target: p95 <= 10 s, within the grace period.
3. **Drain:** ``--drain-sessions`` sessions homed on node A (the facilitator on A, a participant
   on B); SIGTERM to A; measured until every session is back on node B with media flowing at
   both people (``group_drain_s``), and until A exited; none may end.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: server.*, tests.helpers.*

from _common import BenchError, bearer, emit, login, machine, median, percentile, rnd
from checkins import api
from cluster import GRACE_S, KEK, LEASE_S, NODE_ENV

from server.groups.register import RESUMED
from server.media.ice import pin_host_addresses
from tests.helpers import db
from tests.helpers.groupclient import GroupClient
from tests.helpers.nodes import Node, RedisServer, node_env, start_node

# A session reserves the SFU streams of its largest size (16 people: 336 streams) while it is live or
# in its grace period; the default capacity (400) would refuse a second session on a node.
GROUP_EXTRA = {"TANDEM_MEDIA_HOST_ADDRESSES": "127.0.0.1", "TANDEM_SFU_CAPACITY": "5000"}
GROUP_ENV = {**NODE_ENV, **GROUP_EXTRA}
CLIENT_PASSWORD = "bench-group-password-1"
SETTLE_S = 1.0


class World:
    """The group, its people's headers and sessions."""

    def __init__(self, facilitator: dict[str, str], clients: list[dict[str, str]], client_ids: list[str],
                 sessions: list[str]) -> None:
        self.facilitator, self.clients, self.client_ids, self.sessions = facilitator, clients, client_ids, sessions


async def set_up(http: aiohttp.ClientSession, base: str, participants: int, sessions: int) -> World:
    fac = bearer(await login(http, base, "facilitator"))
    officer = bearer(await login(http, base, "officer"))
    officer_id = (await api(http, "GET", f"{base}/api/me", officer))["id"]
    group = (await api(http, "POST", f"{base}/api/groups", fac, {"name": "Bench group", "programme": "Bench"}))["id"]
    await api(http, "PUT", f"{base}/api/groups/{group}/agreement", fac, {"text": "What is said here stays here."})
    clients, ids = [], []
    for n in range(participants):
        username = f"gbench{n}_{int(time.time())}"
        case = await api(http, "POST", f"{base}/api/cases", officer, {
            "client_username": username, "client_display_name": f"Bench Participant {n}", "officer_id": officer_id})
        await api(http, "POST", f"{base}/api/groups/{group}/participants", officer, {"case_id": case["case_id"]})
        await api(http, "POST", f"{base}/api/enrol", {}, {"code": case["enrolment_code"], "password": CLIENT_PASSWORD})
        headers = bearer(await login(http, base, username, CLIENT_PASSWORD))
        version = (await api(http, "GET", f"{base}/api/groups/{group}/agreement", headers))["version"]
        await api(http, "POST", f"{base}/api/groups/{group}/agreement/acceptance", headers, {"version": version})
        clients.append(headers)
        ids.append(case["client_id"])
    start = datetime.now(UTC) - timedelta(minutes=2)
    made = []
    for _ in range(sessions):
        out = await api(http, "POST", f"{base}/api/groups/{group}/sessions", fac,
                        {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()})
        made.append(out["sessions"][0]["id"])
    return World(fac, clients, ids, made)


async def until(check: Callable[[], Any], within_s: float, what: str, poll_s: float = 0.02) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            raise BenchError(f"{what}: not within {within_s} s")
        await asyncio.sleep(poll_s)


def flowing(people: list[GroupClient], after: float) -> float | None:
    """When media had arrived at everyone from everyone else on peer connections made after ``after``."""
    at = [p.media_from([o for o in people if o is not p], after) for p in people]
    return None if None in at else max(t for t in at if t is not None)


async def in_session(http: aiohttp.ClientSession, home: Node, other: Node, w: World, sid: str, participants: int,
                     *, hz: int = 300) -> tuple[list[GroupClient], float]:
    """The facilitator on ``home``, participants alternating between ``other`` and ``home``, all
    admitted, media flowing at everyone; and how long that took from the facilitator's join."""
    loop = asyncio.get_running_loop()
    slots = participants + 1
    started = loop.time()
    fac = GroupClient(http, home.url, w.facilitator, sid, "facilitator", slots=slots, hz=hz)
    people = [fac]
    try:
        await fac.start()
        await until(lambda: fac.joins or fac.refusals, 30, f"the facilitator's join ({fac.frames[-3:]})")
        if fac.refusals or fac.joins[-1][1]["state"] != "present":
            raise BenchError(f"the facilitator joined {fac.joins[-1:]} {fac.refusals}")
        for n in range(participants):
            node = other if n % 2 == 0 else home
            p = GroupClient(http, node.url, w.clients[n], sid, f"p{n}", slots=slots, hz=hz + 110 * (n + 1))
            people.append(p)
            await p.start()
            await until(lambda p=p: p.joins or p.refusals, 30, f"{p.name}'s join")
            if p.refusals or p.joins[-1][1]["state"] != "waiting":
                raise BenchError(f"{p.name} joined {p.joins[-1:]} {p.refusals}")
            await fac.send(type="group.admit", session=sid, participant=p.participant)
        await until(lambda: flowing(people, started), 60, "media flowing at everyone")
        at = flowing(people, started)
        assert at is not None
        await asyncio.sleep(SETTLE_S)
        return people, at - started
    except BaseException:
        await close_all(people)
        raise


async def close_all(people: list[GroupClient]) -> None:
    await asyncio.gather(*(p.close() for p in people), return_exceptions=True)


async def hand_round_trip(p: GroupClient, raised: bool) -> float:
    loop = asyncio.get_running_loop()
    sent = loop.time()
    await p.send(type="group.hand", session=p.sid, raised=raised)

    def shown() -> float | None:
        for t, f in p.seen("group.state", sent):
            if (p.participant in f.get("hands", [])) == raised:
                return t
        return None

    at = await until(shown, 10, f"{p.name}'s hand {'up' if raised else 'down'}", poll_s=0.0005)
    return float(at - sent)


async def control(http: aiohttp.ClientSession, a: Node, b: Node, w: World, samples: int) -> dict[str, Any]:
    people, start_s = await in_session(http, a, b, w, w.sessions[0], len(w.clients))
    try:
        same = next(p for p in people[1:] if p.base_url == a.url)
        cross = next(p for p in people[1:] if p.base_url == b.url)
        times: dict[str, list[float]] = {"same": [], "cross": []}
        for _ in range(samples):
            for name, p in (("same", same), ("cross", cross)):
                for raised in (True, False):
                    times[name].append(await hand_round_trip(p, raised))
    finally:
        await close_all(people)
    out: dict[str, Any] = {"group_start_s_first_session": rnd(start_s, 2)}
    for name, values in times.items():
        out[f"group_{name}_node_control_p50_ms"] = rnd(1000 * median(values), 2)
        out[f"group_{name}_node_control_p99_ms"] = rnd(1000 * percentile(values, 99), 2)
    out["group_control_samples"] = len(times["same"])
    return out


async def register_lines(http: aiohttp.ClientSession, base: str, w: World, sid: str) -> list[dict[str, Any]]:
    body = await api(http, "GET", f"{base}/api/group-sessions/{sid}/register", w.facilitator)
    return [line for line in body["lines"] if line["user_id"] in w.client_ids]


def lobby_again(people: list[GroupClient], after: float) -> list[str]:
    """Who was answered ``waiting`` after ``after``, or listed in the facilitator's lobby."""
    out = [f"{p.name} joined waiting" for p in people for t, f in p.joins if t > after and f["state"] != "present"]
    ids = {p.participant for p in people}
    for _, f in people[0].seen("group.state", after):
        out += [f"{s['participant']} in the lobby" for s in f.get("lobby") or () if s["participant"] in ids]
    return out


async def takeovers(http: aiohttp.ClientSession, nodes: list[Node], w: World, kills: int, participants: int,
                    restart: Callable[[str], Node]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    media: list[float] = []
    signal: list[float] = []
    starts: list[float] = []
    problems: list[str] = []
    for k in range(kills):
        home, other = nodes[k % 2], nodes[(k + 1) % 2]
        sid = w.sessions[1 + k]
        people, start_s = await in_session(http, home, other, w, sid, participants)
        starts.append(start_s)
        try:
            for p in people:
                p.base_url = other.url  # where a dropped socket comes back (nginx fails over to the live node)
            killed = loop.time()
            home.proc.kill()
            await asyncio.to_thread(home.proc.wait, 10)
            try:
                back = await until(lambda killed=killed, people=people: flowing(people, killed), GRACE_S + LEASE_S,
                                   f"kill {k + 1}: media flowing again at everyone")
            except BenchError as err:
                state = {p.name: (p.joins[-1:], p.refusals[-1:], p.frames[-3:]) for p in people}
                raise BenchError(f"{err}; {state}\n{other.log_tail(40)}") from err
            media.append(back - killed)
            signal.append(max(t for p in people for t, f in p.joins if t > killed) - killed)
            problems += [f"kill {k + 1}: {x}" for x in lobby_again(people, killed)]
            problems += [f"kill {k + 1}: {p.name} refused {f}" for p in people for f in p.refusals]
            problems += [f"kill {k + 1}: {p.name} got {f}" for p in people for _, f in p.seen("group.notice", killed)
                         if f.get("kind") in ("ended", "removed", "denied")]
            lines = await register_lines(http, other.url, w, sid)
            if len(lines) != participants:
                problems.append(f"kill {k + 1}: the register has {len(lines)} participant lines, not {participants}")
            for line in lines:
                if line["suggestion"] == "absent" or RESUMED not in line["reasons"]:
                    problems.append(f"kill {k + 1}: register {line['display_name']}: {line['suggestion']} "
                                    f"{line['reasons']}")
            await asyncio.sleep(SETTLE_S)
        finally:
            await close_all(people)
        nodes[k % 2] = await asyncio.to_thread(restart, f"{home.name.split('.')[0]}.g{k + 1}")
    return {
        "group_takeover_p50_s": rnd(median(media), 2), "group_takeover_p95_s": rnd(percentile(media, 95), 2),
        "group_takeover_max_s": rnd(max(media), 2), "group_takeover_kills": kills,
        "group_takeover_s": [rnd(s, 2) for s in media],
        "group_takeover_what": "kill -9 of the home until audio and video RTP from every other person "
                               "arrive at every person's new peer connection",
        "group_takeover_rejoined_p50_s": rnd(median(signal), 2),
        "group_takeover_rejoined_max_s": rnd(max(signal), 2),
        "group_start_p50_s": rnd(median(starts), 2), "group_start_max_s": rnd(max(starts), 2),
        "group_takeover_problems": problems,
    }


async def drain(http: aiohttp.ClientSession, a: Node, b: Node, w: World, sessions: list[str]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    groups: list[list[GroupClient]] = []
    try:
        for n, sid in enumerate(sessions):
            people, _ = await in_session(http, a, b, w, sid, 1, hz=300 + 20 * n)
            groups.append(people)
        for people in groups:
            for p in people:
                p.base_url = b.url
        started = loop.time()
        a.proc.terminate()
        exited = asyncio.create_task(asyncio.to_thread(a.proc.wait, 60))
        try:
            back = await until(lambda: all(flowing(g, started) for g in groups), 60, "every session back on node B")
        except BenchError as err:
            late = [[(p.name, p.joins[-1:], p.refusals[-1:]) for p in g] for g in groups if not flowing(g, started)]
            raise BenchError(f"{err}: {late}") from err
        done = max(flowing(g, started) or 0.0 for g in groups)
        await exited
        exit_s = loop.time() - started
        ended = [f"{p.name}: {f}" for g in groups for p in g for _, f in p.seen("group.notice", started)
                 if f.get("kind") in ("ended", "removed", "denied")]
        ended += [f"{p.name} refused {f}" for g in groups for p in g for f in p.refusals]
        ended += lobby_again([p for g in groups for p in g], started)
        return {"group_drain_sessions": len(sessions), "group_drain_s": rnd(done - started, 2),
                "group_drain_exit_s": rnd(exit_s, 2), "group_drain_problems": ended, "_back": back}
    finally:
        for g in groups:
            await close_all(g)


async def group_parts(http: aiohttp.ClientSession, nodes: list[Node], restart: Callable[[str], Node],
                      args: argparse.Namespace) -> dict[str, Any]:
    """The three parts on two running nodes (``nodes`` is updated as nodes are restarted)."""
    pin_host_addresses(("127.0.0.1",))
    w = await set_up(http, nodes[0].url, args.participants, 1 + args.kills + args.drain_sessions)
    result = await control(http, nodes[0], nodes[1], w, args.samples)
    same, cross = result["group_same_node_control_p99_ms"], result["group_cross_node_control_p99_ms"]
    result["target_group_cross_le_2x_same_plus_5ms"] = cross <= 2 * same + 5
    if args.kills:
        result.update(await takeovers(http, nodes, w, args.kills, args.participants, restart))
        result["target_group_takeover_p95_le_10s"] = result["group_takeover_p95_s"] <= 10
        result["target_group_takeover_within_grace"] = result["group_takeover_max_s"] <= GRACE_S
        result["target_group_takeover_nobody_lobby_absent"] = not result["group_takeover_problems"]
    if args.drain_sessions:
        out = await drain(http, nodes[0], nodes[1], w, w.sessions[1 + args.kills:])
        out.pop("_back")
        result.update(out)
        result["target_group_drain_le_30s_none_ended"] = (result["group_drain_s"] <= 30
                                                          and not result["group_drain_problems"])
    return result


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    started = time.monotonic()
    uptime = (await asyncio.to_thread(subprocess.run, ["uptime"], capture_output=True, text=True,
                                      check=False)).stdout.strip()
    redis = RedisServer(workdir / "redis")
    name = f"tandem_bench_cluster_group_{os.getpid()}"
    database_url = db.create_pg_database(name)
    redis.start()
    env = node_env(database_url=database_url, redis_url=redis.url, kek=KEK, extra=GROUP_ENV)
    every: list[Node] = []

    def restart(node_name: str) -> Node:
        node = start_node(node_name, workdir, {**env, "TANDEM_NODE_ID": node_name})
        every.append(node)
        node.wait_ready(120)
        return node

    try:
        nodes = [restart("a"), restart("b")]
        result: dict[str, Any] = {"bench": "cluster_group", "machine": machine(), "uptime_at_start": uptime,
                                  "lease_s": LEASE_S, "grace_s": GRACE_S, "participants": args.participants + 1}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            result.update(await group_parts(http, nodes, restart, args))
        result["ok"] = all(v for k, v in result.items() if k.startswith("target_"))
        result["elapsed_s"] = rnd(time.monotonic() - started, 1)
        return result
    finally:
        for node in every:
            node.stop(timeout=30)
        redis.stop()
        db.drop_pg_database(name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=int, default=200, help="hand raise/lower pairs per node")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--drain-sessions", type=int, default=5)
    parser.add_argument("--participants", type=int, default=3, help="participants besides the facilitator")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tandem-bench-cluster-group-") as tmp:
        try:
            result = asyncio.run(asyncio.wait_for(run(args, Path(tmp)), timeout=1500))
        except (BenchError, TimeoutError, AssertionError, aiohttp.ClientError, RuntimeError) as err:
            emit({"bench": "cluster_group", "ok": False, "error": f"{type(err).__name__}: {err}",
                  "elapsed_s": rnd(time.monotonic() - started, 1)})
            return 1
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
