"""Messaging throughput, latency and idle memory, against a bare WebSocket relay.

Criteria (from the issue), per store (SQLite and PostgreSQL), all measured in one run:

* ``ratio`` = Tandem's delivered messages per second / a bare aiohttp WebSocket relay's
  (no persistence, no auth lookups, no encryption, no audit), same load, same run: >= 0.5;
* ``p99_at_half_rate_ms``: send->receive p99 at half of Tandem's own max rate, paced
  open loop: <= 50 ms;
* ``idle_rss_kib_per_conn``: server RSS growth per idle authenticated /ws connection with
  10,000 of them: <= 24 KiB.

How it measures:

* Tandem runs as ``tandem serve`` (not demo: production settings, encryption and audit on)
  in its own process, once on SQLite and once on PostgreSQL. Only
  ``TANDEM_REQUIRE_STAFF_MFA=false`` differs: seeded officers have no TOTP.
* Seeding (before each server starts, one process per store, in parallel) goes through the
  action functions: 1,000 cases (client + officer, a face-to-face meeting each; 450
  officers, 2-3 cases each), 50 case networks of 12 (the case's officer + 11 partner-agency
  users), 2,000 users in all, plus 8,000 idle client accounts; bearer sessions through
  ``IdentityService.login``. Passwords are hashed with a cheap argon2
  (``Passwords(memory_cost=8, time_cost=1)``) in the seeding process only, which turns
  10,000 logins from minutes of argon2 into seconds.
* Twelve-person conversations: case networks (the supervising officer and 11 partner-agency
  users), seeded through the same action functions as the cases (the JSON says so under
  ``twelve_person``). Programme-group conversations have the same send path.
* Load generators are separate processes (``--generators``, nice 10), each holding a share
  of the connections. A send's body starts with ``time.monotonic()`` (CLOCK_MONOTONIC, the
  same clock in every process), so the receiving process computes send->receive latency.
  "Delivered" counts ``message`` frames received by members other than the sender (both
  servers also echo each message to the sender's own connection; not counted). A send
  picks a conversation uniformly (each of the 1,050 equally busy) and one of its members
  as the sender, so ~5 % of sends fan out to 11 recipients.
* Idle memory: after a warm-up, server RSS before and after opening ``--idle`` connections
  (``hello`` answered, nothing else), divided by their number.
* Max rate: closed loop with ``--window`` sends in flight in total; after ``--warm-s`` the
  next ``--measure-s`` seconds count (``p50_ms``/``p99_ms`` are measured here, so they
  include queueing behind the window). The default window, 256 (of 2,000 clients), keeps
  both servers busy: Tandem commits sends in groups, and with 64 in flight it waits on its
  own round trips with CPU to spare (measured: 2,479 sends/s at 84 % server CPU against
  3,160 at 91 % with 256); the relay is held by the generators either way. Half rate: open
  loop at half of Tandem's own max sends/s (``p99_at_half_rate_ms``); the relay is also run at that rate
  (``baseline_p99_at_same_rate_ms``: the floor set by aiohttp, the generators and the box).
* The relay (this file, ``--relay``) speaks the same frames with ``msgspec``, keeps seq in
  memory, authenticates by a token dict and writes straight to each member's sockets, so
  the generators are identical. On a 2-core box the generators saturate before the relay
  does: ``baseline.max_rate.generator_cpu_pct`` and ``machine_cpu_pct`` show it, and then
  the baseline is a lower bound and ``ratio`` an upper bound.

Output: one JSON object per line on stdout, one line per store (progress goes to stderr).
Exit status: 0 when it measured (``ok`` says whether every target held), 1 when it could
not (a server did not start, connections failed, the run exceeded ``--budget-s``); then the
one line is ``{"bench", "ok": false, "error", "elapsed_s"}``. ``--py-spy DIR`` records the
server (GIL holder, raw collapsed stacks) during each store's max-rate phase.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import math
import multiprocessing
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # bench scripts run as files, not as a package
    HOST,
    REPO_ROOT,
    BenchError,
    ProcessCpu,
    Server,
    emit,
    free_port,
    machine,
    percentile,
    rnd,
)

sys.path.insert(0, str(REPO_ROOT))

TARGET_RATIO = 0.5
TARGET_P99_HALF_MS = 50.0
TARGET_IDLE_KIB = 24.0
GROUP_SIZE = 12
PASSWORD = "bench messaging password"
#: Tandem's event loop (its TANDEM_EVENT_LOOP setting); the relay runs on the same one.
EVENT_LOOP = os.environ.get("TANDEM_EVENT_LOOP") or "uvloop"
PG_URL = os.environ.get("TANDEM_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
TWELVE_PERSON = ("case network conversations: the supervising officer and 11 partner-agency users "
                 "(programme-group conversations take the same send path)")
# A chat-sized body after the timestamp (no quotes: the generators write the frame with an f-string).
PAD = "Reminder: your appointment is on Tuesday at 10:00 in room 4, bring the form we talked about."


# -- layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    pairs: int  # two-person (case) conversations
    groups: int  # twelve-person (case network) conversations
    users: int  # connected users in the load phase
    idle: int  # idle connections (users) in the memory phase

    @property
    def partners(self) -> int:
        return self.groups * (GROUP_SIZE - 1)

    @property
    def officers(self) -> int:
        return self.users - self.pairs - self.partners


FULL = Shape(pairs=1000, groups=50, users=2000, idle=10_000)
QUICK = Shape(pairs=100, groups=5, users=200, idle=1_000)


def _kek() -> bytes:
    return bytes(range(32))


async def _seed(url: str, data_dir: str, shape: Shape) -> dict[str, Any]:
    """Build the population through the action functions; bearer sessions through login."""
    from datetime import timedelta

    from aiohttp import web
    from sqlalchemy import select

    from server.app import create_app
    from server.identity.model import Actor, Role
    from server.identity.passwords import Passwords
    from server.settings import Settings
    from server.store.schema import conversation_members
    from server.web.state import SERVICES

    settings = Settings(database_url=url, data_dir=Path(data_dir), kek=_kek(), require_staff_mfa=False,
                        log_json=False)
    app = create_app(settings, passwords=Passwords(memory_cost=8, time_cost=1))
    runner = web.AppRunner(app)
    await runner.setup()
    started = time.monotonic()
    try:
        s = app[SERVICES]
        ident, cases, now = s.identity, s.cases, s.clock.now()
        office = await ident.create_office(None, "Bench office")
        senior_id = await ident.create_user(None, username="senior", display_name="Senior", role=Role.SENIOR_OFFICER,
                                            office_id=office, password=PASSWORD)
        senior = Actor(senior_id, "senior", "Senior", Role.SENIOR_OFFICER, office, "en", False)
        load: list[tuple[str, str]] = []  # (username, user id) of the connected users
        officers = []
        for i in range(shape.officers):
            uid = await ident.create_user(None, username=f"officer{i}", display_name=f"Officer {i}",
                                          role=Role.OFFICER, office_id=office, password=PASSWORD)
            officers.append(uid)
            load.append((f"officer{i}", uid))
        case_ids = []
        for i in range(shape.pairs):
            created = await cases.create_case(senior, client_username=f"client{i}",
                                              client_display_name=f"Client {i}",
                                              officer_id=officers[i % len(officers)], password=PASSWORD)
            await cases.record_face_to_face(senior, created.case_id, met_at=now - timedelta(days=1),
                                            location="Bench office")
            case_ids.append(created.case_id)
            load.append((f"client{i}", created.client_id))
        for g in range(shape.groups):
            for p in range(GROUP_SIZE - 1):
                uid = await ident.create_user(None, username=f"partner{g}_{p}", display_name=f"Partner {g}.{p}",
                                              role=Role.PARTNER, office_id=None, password=PASSWORD)
                await cases.add_network_member(senior, case_ids[g], uid)
                load.append((f"partner{g}_{p}", uid))
        idle: list[tuple[str, str]] = list(load)
        for i in range(shape.idle - len(load)):
            # Idle-only accounts: clients without a case (the system creates them; an idle
            # connection's server-side state does not depend on having conversations).
            uid = await ident.create_user(None, username=f"idle{i}", display_name=f"Idle {i}", role=Role.CLIENT,
                                          office_id=None, password=PASSWORD)
            idle.append((f"idle{i}", uid))
        seeded_s = time.monotonic() - started
        tokens: dict[str, str] = {}
        for username, uid in idle:
            result = await ident.login(username, PASSWORD, address="127.0.0.1", kind="bearer")
            tokens[uid] = result.token
        async with s.store.read("bench.layout") as conn:
            rows = (await conn.execute(select(conversation_members.c.conversation_id, conversation_members.c.user_id)
                                       .where(conversation_members.c.left_at.is_(None)))).all()
        members: dict[str, list[str]] = {}
        for row in rows:
            members.setdefault(str(row.conversation_id), []).append(str(row.user_id))
        sizes = Counter(len(m) for m in members.values())
        if sizes != Counter({2: shape.pairs, GROUP_SIZE: shape.groups}):
            raise BenchError(f"unexpected conversation sizes {dict(sizes)}")
        return {
            "load": [[uid, tokens[uid]] for _u, uid in load],
            "idle": [[uid, tokens[uid]] for _u, uid in idle],
            "conversations": members,
            "seed_s": rnd(seeded_s, 1),
            "login_s": rnd(time.monotonic() - started - seeded_s, 1),
        }
    finally:
        await runner.cleanup()


def seed_store(url: str, data_dir: str, shape: Shape, out: str) -> float:
    """In a seeding process: migrate, seed, write the layout to ``out``."""
    from server.store.migrate import upgrade

    started = time.monotonic()
    upgrade(url)
    layout = asyncio.run(_seed(url, data_dir, shape))
    Path(out).write_text(json.dumps(layout))
    return time.monotonic() - started


# -- the bare relay (run as ``messaging.py --relay``) ------------------------------------------


class _In(msgspec.Struct):
    type: str
    id: str | None = None
    conversation_id: str | None = None
    body: str | None = None


def run_relay(port: int, layout_path: str, loop_kind: str) -> None:
    """A bare aiohttp WebSocket relay: the same frames as Tandem's /ws, nothing stored, on the
    same event loop as ``tandem serve`` (``TANDEM_EVENT_LOOP``, uvloop by default)."""
    from datetime import UTC, datetime

    from aiohttp import web

    from server.cli import event_loop

    layout = json.loads(Path(layout_path).read_text())
    tokens = {token: uid for uid, token in layout["load"] + layout["idle"]}
    conversations: dict[str, set[str]] = {c: set(m) for c, m in layout["conversations"].items()}
    sockets: dict[str, set[web.WebSocketResponse]] = {}
    seqs: Counter[str] = Counter()
    decode = msgspec.json.Decoder(_In).decode
    encode = msgspec.json.Encoder().encode

    async def handle(request: web.Request) -> web.StreamResponse:
        user = tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if user is None:
            raise web.HTTPUnauthorized()
        ws = web.WebSocketResponse(heartbeat=25.0, max_msg_size=16 * 1024, compress=False)
        await ws.prepare(request)
        sockets.setdefault(user, set()).add(ws)
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                f = decode(msg.data)
                if f.type == "hello":
                    await ws.send_str(encode({"type": "welcome", "user_id": user, "role": "client",
                                              "heartbeat_s": 25.0, "max_frame_bytes": 16384}).decode())
                elif f.type == "send" and f.conversation_id in conversations:
                    members = conversations[f.conversation_id]
                    if user not in members:
                        continue
                    seqs[f.conversation_id] += 1
                    seq, now = seqs[f.conversation_id], datetime.now(UTC)
                    frame = encode({"type": "message", "conversation_id": f.conversation_id, "seq": seq,
                                    "id": f.id, "sender_id": user, "kind": "text", "body": f.body,
                                    "sent_at": now}).decode()
                    for member in members:
                        for other in list(sockets.get(member, ())):
                            if not other.closed:
                                await other.send_str(frame)
                    await ws.send_str(encode({"type": "ack", "id": f.id, "conversation_id": f.conversation_id,
                                              "seq": seq, "sent_at": now}).decode())
        finally:
            sockets[user].discard(ws)
        return ws

    async def readyz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_get("/ws", handle)
    app.router.add_get("/readyz", readyz)
    web.run_app(app, host=HOST, port=port, access_log=None, print=lambda m: print(m, flush=True),
                loop=event_loop(loop_kind))


# -- servers under test ------------------------------------------------------------------------


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:  # 127.0.0.1 only
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def server_process(name: str, cmd: list[str], env: dict[str, str], workdir: Path, port: int,
                   ready_timeout: float = 60.0) -> Iterator[Server]:
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    url = f"http://{HOST}:{port}"
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    server = Server(proc=proc, url=url, data_dir=workdir, log_path=log_path, _log=log)
    try:
        while not _ready(url):
            if not server.alive():
                raise BenchError(f"{name} exited with {proc.returncode} before it was ready:\n{server.log_tail()}")
            if time.monotonic() - start > ready_timeout:
                raise BenchError(f"{name} not ready after {ready_timeout:.0f} s:\n{server.log_tail()}")
            time.sleep(0.1)
        server.startup_s = time.monotonic() - start
        yield server
    finally:
        server.stop()


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TANDEM_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def tandem(store_url: str, workdir: Path) -> Any:
    port = free_port()
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = _clean_env({"DATABASE_URL": store_url, "TANDEM_KEK": base64.b64encode(_kek()).decode(),
                      "TANDEM_REQUIRE_STAFF_MFA": "false", "TANDEM_EVENT_LOOP": EVENT_LOOP})
    script = Path(sys.executable).parent / "tandem"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]
    cmd += ["serve", "--data-dir", str(data_dir), "--host", HOST, "--port", str(port)]
    return server_process("tandem", cmd, env, workdir, port)


def relay(layout_path: Path, workdir: Path) -> Any:
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--relay", "--port", str(port), "--layout", str(layout_path),
           "--event-loop", EVENT_LOOP]
    return server_process("relay", cmd, _clean_env({}), workdir, port)


def rss_bytes(pid: int) -> int:
    try:
        import psutil  # a dev dependency
    except ImportError:
        raise BenchError("psutil is needed to read the server's RSS (pip install -e '.[dev]')") from None

    return int(psutil.Process(pid).memory_info().rss)


# -- load generator processes --------------------------------------------------------------------


class _Frame(msgspec.Struct):
    type: str
    id: str | None = None
    sender_id: str | None = None
    body: str | None = None
    code: str | None = None
    ref: str | None = None


@dataclass
class _Conn:
    user_id: str
    token: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    welcome: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    close_code: int | None = None


class Generator:
    """One generator process: a share of the connections, driven by commands from the bench."""

    def __init__(self, wid: int, pipe: Pipe) -> None:
        self.wid = wid
        self.pipe = pipe
        self.conns: list[_Conn] = []
        self.picks: list[tuple[_Conn, str]] = []
        self.cum_weights: list[float] = []
        self.pending: dict[str, asyncio.Future[None] | None] = {}
        self.ids = itertools.count()
        self.rec_from = math.inf
        self.rec_to = -math.inf
        self.reset()
        self.decode = msgspec.json.Decoder(_Frame).decode
        self.rng = random.Random(wid)

    def reset(self) -> None:
        self.deliveries = 0
        self.latencies: list[float] = []
        self.acks = 0
        self.errors: Counter[str] = Counter()
        self.send_failures = 0
        self.skipped = 0

    async def serve(self) -> None:
        os.nice(10)
        loop = asyncio.get_running_loop()
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                             timeout=aiohttp.ClientTimeout(total=60))
        try:
            while True:
                cmd, kwargs = await loop.run_in_executor(None, self.pipe.recv)
                if cmd == "stop":
                    return
                try:
                    result = await getattr(self, f"cmd_{cmd}")(**kwargs)
                except Exception as err:  # reported to the bench, which stops with exit 1
                    result = {"error": f"{type(err).__name__}: {err}"}
                self.pipe.send(result)
        finally:
            await self.cmd_disconnect()
            await self.session.close()

    # connections

    async def _read(self, c: _Conn) -> None:
        assert c.ws is not None
        ws = c.ws
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                c.close_code = ws.close_code
                return
            f = self.decode(msg.data)
            kind = f.type
            if kind == "message":
                if f.sender_id != c.user_id:
                    now = time.monotonic()
                    if self.rec_from <= now <= self.rec_to:
                        self.deliveries += 1
                        self.latencies.append(now - float((f.body or "0").split(" ", 1)[0]))
            elif kind == "ack":
                if f.id is not None and f.id in self.pending:
                    fut = self.pending.pop(f.id)
                    if self.rec_from <= time.monotonic() <= self.rec_to:
                        self.acks += 1
                    if fut is not None and not fut.done():
                        fut.set_result(None)
            elif kind == "welcome":
                c.welcome.set()
            elif kind == "error":
                self.errors[f.code or "?"] += 1
                fut = self.pending.pop(f.ref or "", None)
                if fut is not None and not fut.done():
                    fut.set_exception(RuntimeError(f.code))

    async def _connect_one(self, url: str, c: _Conn, gate: asyncio.Semaphore) -> str | None:
        async with gate:
            for attempt in range(5):
                try:
                    c.ws = await self.session.ws_connect(f"{url}/ws", headers={"Authorization": f"Bearer {c.token}"},
                                                         autoping=True, max_msg_size=0)
                    break
                except (aiohttp.ClientError, OSError, TimeoutError) as err:
                    if attempt == 4:
                        return f"{type(err).__name__}: {err}"
                    await asyncio.sleep(0.2 * (attempt + 1))
            assert c.ws is not None
            c.task = asyncio.create_task(self._read(c))
            await c.ws.send_str('{"type":"hello","resume":{}}')
            try:
                await asyncio.wait_for(c.welcome.wait(), 60)
            except TimeoutError:
                return "no welcome within 60 s"
            return None

    async def cmd_connect(self, url: str, users: list[list[str]], conversations: dict[str, list[str]] | None,
                          concurrency: int) -> dict[str, Any]:
        started = time.monotonic()
        new = [_Conn(uid, token) for uid, token in users]
        gate = asyncio.Semaphore(concurrency)
        failures = [r for r in await asyncio.gather(*(self._connect_one(url, c, gate) for c in new)) if r]
        self.conns += new
        if conversations is not None:
            # Each conversation equally busy overall: a (member, conversation) pair weighs 1 / members.
            by_user = {c.user_id: c for c in new}
            self.picks, weights = [], []
            for conv, members in conversations.items():
                for m in members:
                    if m in by_user:
                        self.picks.append((by_user[m], conv))
                        weights.append(1.0 / len(members))
            self.cum_weights = list(itertools.accumulate(weights))
        return {"connected": len(new) - len(failures), "failed": len(failures), "first_failure": failures[:1],
                "seconds": time.monotonic() - started}

    async def cmd_disconnect(self) -> dict[str, Any]:
        codes = Counter(str(c.close_code) for c in self.conns if c.close_code is not None)
        for c in self.conns:
            if c.ws is not None and not c.ws.closed:
                with contextlib.suppress(Exception):
                    await c.ws.close()
        tasks = [c.task for c in self.conns if c.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.conns, self.picks, self.cum_weights = [], [], []
        self.pending.clear()
        return {"closed_by_server_before": dict(codes)}

    # sending

    def _frame(self) -> tuple[str, str]:
        c, conv = self.rng.choices(self.picks, cum_weights=self.cum_weights, k=1)[0]
        mid = f"g{self.wid}-{next(self.ids)}"
        return mid, (f'{{"type":"send","id":"{mid}","conversation_id":"{conv}",'
                     f'"body":"{time.monotonic():.6f} {PAD}"}}'), c

    async def _closed_slot(self, end: float) -> None:
        loop = asyncio.get_running_loop()
        while time.monotonic() < end:
            mid, frame, c = self._frame()
            if c.ws is None or c.ws.closed:
                self.send_failures += 1
                await asyncio.sleep(0.01)
                continue
            fut: asyncio.Future[None] = loop.create_future()
            self.pending[mid] = fut
            try:
                await c.ws.send_str(frame)
                await asyncio.wait_for(fut, 60)
            except Exception:
                self.pending.pop(mid, None)
                self.send_failures += 1

    async def cmd_closed(self, start: float, rec_from: float, rec_to: float, window: int) -> dict[str, Any]:
        self.reset()
        self.rec_from, self.rec_to = rec_from, rec_to
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        cpu0 = time.process_time()
        await asyncio.gather(*(self._closed_slot(rec_to) for _ in range(window)))
        return self._report(cpu0, rec_to - start)

    async def cmd_open(self, start: float, rec_from: float, rec_to: float, rate: float) -> dict[str, Any]:
        """Fire sends on a fixed schedule, not waiting for acks; a missed slot is skipped and counted."""
        self.reset()
        self.rec_from, self.rec_to = rec_from, rec_to
        interval = 1.0 / rate
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        cpu0 = time.process_time()
        slot = 0
        while True:
            due = start + slot * interval
            if due >= rec_to:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -interval:
                missed = int(-delay // interval)
                self.skipped += missed
                slot += missed
                continue
            mid, frame, c = self._frame()
            slot += 1
            if c.ws is None or c.ws.closed:
                self.send_failures += 1
                continue
            self.pending[mid] = None
            try:
                await c.ws.send_str(frame)
            except Exception:
                self.pending.pop(mid, None)
                self.send_failures += 1
        await asyncio.sleep(2.0)  # late deliveries of the last sends
        return self._report(cpu0, rec_to - start)

    def _report(self, cpu0: float, wall: float) -> dict[str, Any]:
        closed = Counter(str(c.close_code) for c in self.conns if c.ws is not None and c.ws.closed)
        self.rec_from, self.rec_to = math.inf, -math.inf
        return {"deliveries": self.deliveries, "latencies": self.latencies, "acks": self.acks,
                "errors": dict(self.errors), "send_failures": self.send_failures, "skipped": self.skipped,
                "closed": dict(closed), "cpu_s": time.process_time() - cpu0, "wall_s": wall}


def generator_main(wid: int, pipe: Pipe) -> None:
    asyncio.run(Generator(wid, pipe).serve())


class Generators:
    """The generator processes, driven in lock step."""

    def __init__(self, n: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Pipe] = []
        self.procs = []
        for wid in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=generator_main, args=(wid, child), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    def call(self, cmd: str, per_worker: list[dict[str, Any]], timeout: float = 300.0) -> list[dict[str, Any]]:
        for pipe, kwargs in zip(self.pipes, per_worker, strict=True):
            pipe.send((cmd, kwargs))
        out = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise BenchError(f"a load generator did not answer {cmd!r} within {timeout:.0f} s")
            result = pipe.recv()
            if "error" in result:
                raise BenchError(f"load generator, {cmd}: {result['error']}")
            out.append(result)
        return out

    def split(self, items: list[Any]) -> list[list[Any]]:
        n = len(self.pipes)
        return [items[i::n] for i in range(n)]

    def connect(self, url: str, users: list[list[str]], conversations: dict[str, list[str]] | None,
                concurrency: int = 50) -> dict[str, Any]:
        results = self.call("connect", [{"url": url, "users": share, "conversations": conversations,
                                         "concurrency": concurrency} for share in self.split(users)])
        failed = sum(r["failed"] for r in results)
        if failed:
            first = next(r["first_failure"] for r in results if r["failed"])
            raise BenchError(f"{failed} of {len(users)} WebSocket connections failed, first: {first}")
        return {"connected": sum(r["connected"] for r in results),
                "seconds": max(r["seconds"] for r in results)}

    def disconnect(self) -> dict[str, Any]:
        closed: Counter[str] = Counter()
        for r in self.call("disconnect", [{} for _ in self.pipes]):
            closed.update(r["closed_by_server_before"])
        return dict(closed)

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(Exception):
                pipe.send(("stop", {}))
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


# -- phases ------------------------------------------------------------------------------------


def merge(results: list[dict[str, Any]], measure_s: float) -> dict[str, Any]:
    latencies = [x for r in results for x in r["latencies"]]
    errors: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
        closed.update(r["closed"])
    ms = [x * 1000 for x in latencies]
    return {
        "delivered_per_s": rnd(sum(r["deliveries"] for r in results) / measure_s, 1),
        "sends_per_s": rnd(sum(r["acks"] for r in results) / measure_s, 1),
        "p50_ms": rnd(percentile(ms, 50), 2),
        "p90_ms": rnd(percentile(ms, 90), 2),
        "p99_ms": rnd(percentile(ms, 99), 2),
        "max_ms": rnd(max(ms), 2) if ms else None,
        "samples": len(ms),
        "error_frames": dict(errors),
        "send_failures": sum(r["send_failures"] for r in results),
        "skipped_slots": sum(r["skipped"] for r in results),
        "closed_connections": dict(closed),
        "generator_cpu_pct": rnd(100 * sum(r["cpu_s"] for r in results) / max(r["wall_s"] for r in results), 1),
    }


class Meter:
    """CPU of the server process (all threads) and of the whole machine over a phase."""

    def __init__(self, pid: int) -> None:
        self.cpu = ProcessCpu(pid)

    def __enter__(self) -> Meter:
        import psutil

        self.t0 = time.monotonic()
        self.s0 = self.cpu.total()
        self.m0 = psutil.cpu_times()
        return self

    def __exit__(self, *_: object) -> None:
        import psutil

        wall = time.monotonic() - self.t0
        s1 = self.cpu.total()
        m1 = psutil.cpu_times()
        def used(t: Any) -> float:
            return float(sum(t) - t.idle - getattr(t, "iowait", 0))

        busy = used(m1) - used(self.m0)
        self.server_pct = None if s1 is None or self.s0 is None else rnd(100 * (s1 - self.s0) / wall, 1)
        self.machine_pct = rnd(100 * busy / wall / (os.cpu_count() or 1), 1)


def closed_loop(gens: Generators, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    start = time.monotonic() + 0.5
    rec_from, rec_to = start + args.warm_s, start + args.warm_s + args.measure_s
    per = max(1, args.window // len(gens.pipes))
    with Meter(pid) as meter:
        results = gens.call("closed", [{"start": start, "rec_from": rec_from, "rec_to": rec_to, "window": per}
                                       for _ in gens.pipes], timeout=args.warm_s + args.measure_s + 120)
    out = merge(results, args.measure_s)
    out.update(window=per * len(gens.pipes), server_cpu_pct=meter.server_pct, machine_cpu_pct=meter.machine_pct)
    return out


def open_loop(gens: Generators, pid: int, args: argparse.Namespace, rate: float) -> dict[str, Any]:
    start = time.monotonic() + 0.5
    rec_from, rec_to = start + args.warm_s, start + args.warm_s + args.measure_s
    per = rate / len(gens.pipes)
    with Meter(pid) as meter:
        results = gens.call("open", [{"start": start, "rec_from": rec_from, "rec_to": rec_to, "rate": per}
                                     for _ in gens.pipes], timeout=args.warm_s + args.measure_s + 120)
    out = merge(results, args.measure_s)
    out.update(target_sends_per_s=rnd(rate, 1), server_cpu_pct=meter.server_pct, machine_cpu_pct=meter.machine_pct)
    return out


def idle_memory(gens: Generators, server: Server, users: list[list[str]], settle_s: float) -> dict[str, Any]:
    """RSS growth of the server per idle authenticated connection (hello answered, nothing else)."""
    time.sleep(settle_s)
    before = rss_bytes(server.pid)
    connected = gens.connect(server.url, users, None)
    time.sleep(settle_s)
    after = rss_bytes(server.pid)
    closed = gens.disconnect()
    n = connected["connected"]
    return {"idle_connections": n, "rss_before_mib": rnd(before / 2**20, 1), "rss_after_mib": rnd(after / 2**20, 1),
            "kib_per_conn": rnd((after - before) / 1024 / n, 2), "connect_s": rnd(connected["seconds"], 1),
            "closed_by_server": closed}


def warm_up(gens: Generators, server: Server, layout: dict[str, Any], args: argparse.Namespace) -> None:
    """First connections and sends pay for imports, statement caches and pools; not measured."""
    convs: dict[str, list[str]] = {}
    mine: set[str] = set()
    for conv, members in layout["conversations"].items():
        if len(mine) >= 100:
            break
        convs[conv] = members
        mine.update(members)
    gens.connect(server.url, [u for u in layout["load"] if u[0] in mine], convs)
    quick = argparse.Namespace(**{**vars(args), "warm_s": 0.5, "measure_s": 1.5, "window": 8})
    closed_loop(gens, server.pid, quick)
    gens.disconnect()


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        print("bench/messaging.py: py-spy not found next to python; not profiling", file=sys.stderr)
        return None
    return subprocess.Popen([str(exe), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200",
                             "--format", "raw", "--output", str(out), "--nonblocking", "--gil"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure_server(gens: Generators, server: Server, layout: dict[str, Any], args: argparse.Namespace,
                   *, label: str, half_rates: dict[str, float] | None = None) -> dict[str, Any]:
    log(f"{label}: warm-up")
    warm_up(gens, server, layout, args)
    log(f"{label}: {len(layout['idle'])} idle connections")
    idle = idle_memory(gens, server, layout["idle"], args.settle_s)
    log(f"{label}: idle {idle['kib_per_conn']} KiB/conn; connecting {len(layout['load'])} load clients")
    load = gens.connect(server.url, layout["load"], layout["conversations"])
    profile = None
    if args.py_spy and label != "relay":
        profile = py_spy(server.pid, args.warm_s + args.measure_s, Path(args.py_spy) / f"{label}.txt")
    max_rate = closed_loop(gens, server.pid, args)
    if profile is not None:
        profile.wait(60)
    log(f"{label}: max {max_rate['delivered_per_s']} delivered/s, {max_rate['sends_per_s']} sends/s, "
        f"p99 {max_rate['p99_ms']} ms")
    out: dict[str, Any] = {"idle": idle, "load_connect_s": rnd(load["seconds"], 1), "max_rate": max_rate}
    rates = half_rates if half_rates is not None else {"half": max_rate["sends_per_s"] / 2}
    for name, rate in rates.items():
        if rate <= 0:
            continue
        out[name] = open_loop(gens, server.pid, args, rate)
        log(f"{label}: open loop at {rnd(rate, 1)} sends/s ({name}): p99 {out[name]['p99_ms']} ms")
    out["closed_by_server"] = gens.disconnect()
    return out


def log(msg: str) -> None:
    print(f"bench/messaging.py: {msg}", file=sys.stderr, flush=True)


# -- stores --------------------------------------------------------------------------------------


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://") + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def store_url(store: str, workdir: Path) -> Iterator[str]:
    if store == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'tandem.db'}"
        return
    name = f"tandem_bench_messaging_{os.getpid()}"
    try:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except OSError as err:
        raise BenchError(f"PostgreSQL is not reachable at {PG_URL}: {err}") from None
    try:
        yield f"{PG_URL}/{name}"
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def row(store: str, tandem_result: dict[str, Any], baseline: dict[str, Any], seeding: dict[str, Any],
        args: argparse.Namespace, shape: Shape, started: float, host: dict[str, Any]) -> dict[str, Any]:
    mx, half = tandem_result["max_rate"], tandem_result["half"]
    base_mx = baseline["max_rate"]
    ratio = mx["delivered_per_s"] / base_mx["delivered_per_s"] if base_mx["delivered_per_s"] else math.nan
    same_rate = baseline.get(f"at_{store}_half")
    met = {
        "ratio": ratio >= TARGET_RATIO,
        "p99_at_half_rate_ms": half["p99_ms"] is not None and half["p99_ms"] <= TARGET_P99_HALF_MS,
        "idle_rss_kib_per_conn": tandem_result["idle"]["kib_per_conn"] <= TARGET_IDLE_KIB,
    }
    return {
        "bench": "messaging",
        "store": store,
        "ok": all(met.values()),
        "delivered_per_s": mx["delivered_per_s"],
        "baseline_delivered_per_s": base_mx["delivered_per_s"],
        "ratio": rnd(ratio, 3),
        "p50_ms": mx["p50_ms"],
        "p99_ms": mx["p99_ms"],
        "p99_at_half_rate_ms": half["p99_ms"],
        "idle_rss_kib_per_conn": tandem_result["idle"]["kib_per_conn"],
        "targets": {"ratio_min": TARGET_RATIO, "p99_at_half_rate_ms_max": TARGET_P99_HALF_MS,
                    "idle_rss_kib_per_conn_max": TARGET_IDLE_KIB},
        "met": met,
        "sends_per_s": mx["sends_per_s"],
        "p50_at_half_rate_ms": half["p50_ms"],
        "half_rate_sends_per_s": half["sends_per_s"],
        "baseline_p99_at_same_rate_ms": same_rate["p99_ms"] if same_rate else None,
        "baseline_idle_rss_kib_per_conn": baseline["idle"]["kib_per_conn"],
        "twelve_person": TWELVE_PERSON,
        "tandem": tandem_result,
        "baseline": baseline,
        "seeding": seeding,
        "config": {
            "connected_clients": shape.users, "two_person_conversations": shape.pairs,
            "twelve_person_conversations": shape.groups, "idle_connections": shape.idle,
            "window": args.window, "warm_s": args.warm_s, "measure_s": args.measure_s,
            "generators": args.generators, "quick": args.quick, "profiled": bool(args.py_spy),
            "latency": "p50_ms/p99_ms: at max rate (closed loop, `window` sends in flight); *_at_half_rate: open loop",
            "server": "tandem serve, production settings except TANDEM_REQUIRE_STAFF_MFA=false",
            "event_loop": f"{EVENT_LOOP} in tandem serve and in the relay (TANDEM_EVENT_LOOP)",
        },
        "machine": host,
        "elapsed_s": rnd(time.monotonic() - started, 1),
    }




def raise_fd_limit(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < need:
        raise BenchError(f"RLIMIT_NOFILE is {soft}; {need} are needed (raise the hard limit: ulimit -Hn)")
    return int(soft)


def run(args: argparse.Namespace, started: float, host: dict[str, Any]) -> list[dict[str, Any]]:
    shape = QUICK if args.quick else FULL
    if args.idle is not None:
        shape = Shape(shape.pairs, shape.groups, shape.users, max(args.idle, shape.users))
    raise_fd_limit(shape.idle + 2000)
    workdir = Path(tempfile.mkdtemp(prefix="tandem-bench-messaging-"))
    try:
        with contextlib.ExitStack() as stack:
            urls = {store: stack.enter_context(store_url(store, workdir / store)) for store in args.stores}
            for store in args.stores:
                (workdir / store).mkdir(parents=True, exist_ok=True)
            log(f"seeding {', '.join(args.stores)} in parallel: {shape.users} load users, {shape.idle} sessions")
            seeding: dict[str, dict[str, Any]] = {}
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=len(args.stores), mp_context=spawn) as pool:
                futures = {store: pool.submit(seed_store, urls[store], str(workdir / store / "seed"), shape,
                                              str(workdir / f"{store}.layout.json")) for store in args.stores}
                for store, fut in futures.items():
                    seeding[store] = {"wall_s": rnd(fut.result(), 1)}
            layouts = {store: json.loads((workdir / f"{store}.layout.json").read_text()) for store in args.stores}
            for store in args.stores:
                seeding[store].update(seed_s=layouts[store]["seed_s"], login_s=layouts[store]["login_s"],
                                      how="action functions (create_user, create_case, record_face_to_face, "
                                          "add_network_member) and IdentityService.login, argon2 at "
                                          "memory_cost=8 KiB, time_cost=1 in the seeding process only")
            gens = Generators(args.generators)
            try:
                results: dict[str, dict[str, Any]] = {}
                for store in args.stores:
                    with tandem(urls[store], workdir / store) as server:
                        results[store] = measure_server(gens, server, layouts[store], args, label=store)
                        if not server.alive():
                            raise BenchError(f"the {store} server died:\n{server.log_tail()}")
                        results[store]["server_log_tracebacks"] = server.log_path.read_text(
                            errors="replace").count("Traceback")
                first = args.stores[0]
                half_rates = {f"at_{s}_half": results[s]["max_rate"]["sends_per_s"] / 2 for s in args.stores}
                with relay(workdir / f"{first}.layout.json", workdir) as server:
                    baseline = measure_server(gens, server, layouts[first], args, label="relay",
                                              half_rates=half_rates)
            finally:
                gens.stop()
        return [row(store, results[store], baseline, seeding[store], args, shape, started, host)
                for store in args.stores]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="200 clients, 1,000 idle, shorter phases (~2 min)")
    p.add_argument("--stores", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    p.add_argument("--generators", type=int, default=2, help="load generator processes (default 2)")
    p.add_argument("--window", type=int, default=256, help="sends in flight at max rate, in total (default 256)")
    p.add_argument("--warm-s", type=float, default=None, help="unmeasured seconds at the start of a phase")
    p.add_argument("--measure-s", type=float, default=None, help="measured seconds per phase")
    p.add_argument("--settle-s", type=float, default=2.0, help="pause before reading RSS (default 2)")
    p.add_argument("--idle", type=int, default=None, help="idle connections (default 10,000; quick 1,000)")
    p.add_argument("--py-spy", metavar="DIR", help="record the server with py-spy (raw stacks) at max rate")
    p.add_argument("--budget-s", type=float, default=900.0, help="give up (exit 1) after this long (default 900)")
    p.add_argument("--relay", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--layout", help=argparse.SUPPRESS)
    p.add_argument("--event-loop", default=EVENT_LOOP, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not args.stores or set(args.stores) - {"sqlite", "postgresql"}:
        p.error("--stores takes sqlite and/or postgresql")
    if args.warm_s is None:
        args.warm_s = 2.0 if args.quick else 3.0
    if args.measure_s is None:
        args.measure_s = 5.0 if args.quick else 12.0
    if args.py_spy:
        Path(args.py_spy).mkdir(parents=True, exist_ok=True)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.relay:
        run_relay(args.port, args.layout, args.event_loop)
        return 0
    started = time.monotonic()
    host = machine()

    def over_budget(_signum: int, _frame: Any) -> None:
        raise BenchError(f"the run exceeded its budget of {args.budget_s:.0f} s")

    signal.signal(signal.SIGALRM, over_budget)
    signal.alarm(int(args.budget_s))
    try:
        rows = run(args, started, host)
    except BenchError as err:
        print(f"bench/messaging.py: {err}", file=sys.stderr)
        emit({"bench": "messaging", "ok": False, "error": str(err).splitlines()[0],
                   "elapsed_s": rnd(time.monotonic() - started, 1)})
        return 1
    finally:
        signal.alarm(0)
    for r in rows:
        emit(r, one_line=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
