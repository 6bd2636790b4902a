"""Video check-ins: how fast a call starts after "admit", and how many signalling frames one
server process relays.

    .venv/bin/python bench/checkins.py [--pairs 10] [--relay-s 5]

1. Set-up through the API: the demo officer opens ``--pairs`` cases, records a face-to-face
   meeting, schedules a check-in for each and creates its one-time join code; each client
   takes a code session; both sides pass their safe-space check.
2. **Admit to first frame** (all pairs at once): the client joins (waiting room), the officer
   joins (host) and, on the ``lobby`` frame, sends ``admit``; the client offers, the officer
   answers (relayed by the server), and both aiortc peers send a small video (160x120, a
   stripe moving every frame: cheap to encode, as 20 peers share this process) and
   silence. Measured per pair: from sending ``admit`` to the moment *both* peers have
   decoded a first video frame of the other, split into phases (admission by the server;
   offer, relay and answer; ICE, DTLS and the first decoded key frame).
   Before them, one pair alone (``single_pair_*``): the same path without contention.
3. **Baseline, same run:** as many pairs of the same aiortc peers, at once, connected
   directly in this process (SDP handed over in memory, no server): offer to both first
   frames. The difference is what the server's signalling path adds.
4. **Relay throughput:** media closed, sockets kept: each officer keeps 16 ``offer`` frames (a
   small fixed SDP) in flight to its client, who answers each with an ``answer``; for
   ``--relay-s`` seconds we count frames delivered and the server process's CPU seconds.
   The per-connection frame budget (``TANDEM_WS_FRAME_RATE``/``_BURST``, 10/s and 30 by
   default, a flood guard per client) is raised for the bench server so it measures the
   relay, not the guard.

ICE is kept on 127.0.0.1 (server and peers pin loopback host candidates, no STUN).
Prints one JSON object; target: ``admit_to_first_frame_median_s`` <= 1.0.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: server.*, tests.helpers.*

from _common import (
    BenchError,
    ProcessCpu,
    bearer,
    emit,
    login,
    machine,
    median,
    percentile,
    rnd,
    tandem_server,
)
from aiortc import AudioStreamTrack, RTCSessionDescription

from server.media.ice import pin_host_addresses
from tests.helpers.callpeer import CallPeer
from tests.helpers.peers import SmallVideo, peer, until

TARGET_MEDIAN_S = 1.0
WINDOW = 16  # offers in flight per pair in the relay phase
DUMMY_SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
SERVER_ENV = {"TANDEM_MEDIA_HOST_ADDRESSES": "127.0.0.1", "TANDEM_WS_FRAME_RATE": "100000",
              "TANDEM_WS_FRAME_BURST": "100000"}


async def api(session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str],
              body: Any = None) -> Any:
    async with session.request(method, url, headers=headers, json=body) as resp:
        text = await resp.text()
        if resp.status // 100 != 2:
            raise BenchError(f"{method} {url}: HTTP {resp.status}: {text[:300]}")
        return await resp.json() if text else None


async def safe_space(session: aiohttp.ClientSession, base: str, headers: dict[str, str], checkin: str) -> None:
    asked = await api(session, "GET", f"{base}/api/checkins/{checkin}/safe-space", headers)
    result = await api(session, "POST", f"{base}/api/checkins/{checkin}/safe-space", headers,
                       {"answers": {q["id"]: True for q in asked["questions"]}, "cant_talk": False})
    if not result["passed"]:
        raise BenchError(f"safe-space check not passed: {result}")


async def set_up(session: aiohttp.ClientSession, base: str, pairs: int) -> list[tuple[str, dict[str, str],
                                                                                       dict[str, str]]]:
    """[(check-in id, officer headers, client headers)], one officer session per pair."""
    officer = bearer(await login(session, base, "officer"))
    officer_id = (await api(session, "GET", f"{base}/api/me", officer))["id"]
    now = datetime.now(UTC)
    out = []
    for n in range(pairs):
        case = await api(session, "POST", f"{base}/api/cases", officer, {
            "client_username": f"bench{n}_{int(time.time())}", "client_display_name": f"Bench Client {n}",
            "officer_id": officer_id})
        case_id = case["case_id"]
        await api(session, "POST", f"{base}/api/cases/{case_id}/face-to-face", officer,
                  {"met_at": (now - timedelta(days=1)).isoformat(), "location": "Office"})
        checkin = (await api(session, "POST", f"{base}/api/cases/{case_id}/checkins", officer,
                             {"starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}))["id"]
        code = (await api(session, "POST", f"{base}/api/checkins/{checkin}/link", officer))["code"]
        client_session = await api(session, "POST", f"{base}/api/checkins/{checkin}/code-session", {},
                                   {"code": code})
        client = bearer(client_session["token"])
        host = bearer(await login(session, base, "officer"))
        await safe_space(session, base, host, checkin)
        await safe_space(session, base, client, checkin)
        out.append((checkin, host, client))
    return out


async def admit_to_first_frame(officer: CallPeer, phone: CallPeer) -> dict[str, float]:
    await phone.signal("join")
    await phone.expect("joined", state="waiting")
    await officer.signal("join")
    await officer.expect("joined")
    lobby = await officer.expect("lobby", within_s=30, checkin_id=officer.room)
    while not lobby["waiting"]:
        await asyncio.sleep(0.02)
        lobby = next(f for f in reversed(officer.frames)
                     if f.get("type") == "lobby" and f["checkin_id"] == officer.room)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await officer.signal("admit", participant=lobby["waiting"][0]["participant"])
    admitted = await phone.expect("admitted", within_s=30)
    other = admitted["peers"][0]
    await until(lambda: other in phone.links and "video" in phone.links[other].sink.first
                and phone.participant in officer.links and "video" in officer.links[phone.participant].sink.first,
                within_s=60, what="first video frames on both sides")
    first = max(phone.links[other].sink.first["video"], officer.links[str(phone.participant)].sink.first["video"])
    return {"total": first - start,
            "admit_to_admitted": phone.first_at["admitted"] - start,  # the server: admission, its writes
            "admitted_to_answer": phone.first_at["answer"] - phone.first_at["admitted"],  # offer, relay, answer
            "answer_to_first_frame": first - phone.first_at["answer"]}  # ICE, DTLS, first key frame, decoding


async def direct_pair() -> float:
    """Baseline: two peers, SDP handed over in memory; offer to both first video frames."""
    a, sink_a = peer()
    b, sink_b = peer()
    for pc in (a, b):
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(SmallVideo(noise=False))
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(RTCSessionDescription(sdp=a.localDescription.sdp, type="offer"))
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(RTCSessionDescription(sdp=b.localDescription.sdp, type="answer"))
        await until(lambda: "video" in sink_a.first and "video" in sink_b.first, within_s=60, what="direct frames")
        return max(sink_a.first["video"], sink_b.first["video"]) - start
    finally:
        for pc, sink in ((a, sink_a), (b, sink_b)):
            await sink.close()
            await pc.close()


async def relay(calls: list[tuple[CallPeer, CallPeer]], seconds: float, cpu: ProcessCpu) -> dict[str, Any]:
    """Offers in flight officer -> client, each answered; frames delivered per second, server CPU."""
    stop = asyncio.Event()
    delivered = itertools.count()
    ready: list[asyncio.Queue[None]] = []
    for officer, phone in calls:
        officer.handle_media(False)
        phone.handle_media(False)
        for link in list(officer.links.values()) + list(phone.links.values()):
            await link.sink.close()
            await link.pc.close()
        officer.links.clear()
        phone.links.clear()
    sends: list[Any] = []
    for officer, phone in calls:
        credits: asyncio.Queue[None] = asyncio.Queue()
        ready.append(credits)
        client_id = str(phone.participant)
        officer_id = next(f for f in phone.frames if f.get("type") == "admitted")["peers"][0]

        def on_phone(frame: dict[str, Any], phone: CallPeer = phone, to: str = officer_id) -> None:
            if frame.get("type") == "offer":
                next(delivered)
                if not stop.is_set():
                    asyncio.get_running_loop().create_task(phone.send(
                        {"type": "answer", "room": phone.room, "to": to, "sdp": DUMMY_SDP}))

        def on_officer(frame: dict[str, Any], credits: asyncio.Queue[None] = credits) -> None:
            if frame.get("type") == "answer":
                next(delivered)
                credits.put_nowait(None)

        phone.on_frame, officer.on_frame = on_phone, on_officer

        async def pump(officer: CallPeer = officer, credits: asyncio.Queue[None] = credits,
                       to: str = client_id) -> None:
            for _ in range(WINDOW):
                credits.put_nowait(None)
            while not stop.is_set():
                await credits.get()
                await officer.send({"type": "offer", "room": officer.room, "to": to, "sdp": DUMMY_SDP})

        sends.append(pump)
    await asyncio.sleep(0.5)
    base_count = next(delivered)
    cpu_before, started = cpu.total(), time.monotonic()
    tasks = [asyncio.get_running_loop().create_task(p()) for p in sends]
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    cpu_after = cpu.total()
    count = next(delivered) - base_count - 1
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    errors = [f for o, p in calls for f in o.errors() + p.errors()]
    cpu_s = (cpu_after - cpu_before) if cpu_after is not None and cpu_before is not None else None
    return {"frames": count, "seconds": rnd(elapsed), "frames_per_s": rnd(count / elapsed, 1),
            "frames_per_server_cpu_s": rnd(count / cpu_s, 1) if cpu_s else None,
            "server_cpu_s": rnd(cpu_s) if cpu_s is not None else None,
            "server_cpu_pct": rnd(100 * cpu_s / elapsed, 1) if cpu_s is not None else None,
            "error_frames": len(errors), "first_error": errors[0] if errors else None}


async def run(pairs: int, relay_s: float) -> dict[str, Any]:
    pin_host_addresses(("127.0.0.1",))
    started = time.monotonic()
    with tandem_server(env=SERVER_ENV) as server:
        cpu = ProcessCpu(server.pid)
        async with aiohttp.ClientSession() as session:
            plan = await set_up(session, server.url, pairs + 1)  # one more: the lone pair first
            calls = []
            for checkin, host, client in plan:
                officer = CallPeer(session, server.url, host, checkin, noise=False)
                phone = CallPeer(session, server.url, client, checkin, noise=False)
                await officer.__aenter__()
                await phone.__aenter__()
                calls.append((officer, phone))
            try:
                alone = await admit_to_first_frame(*calls[0])  # uncontended: the path's own latency
                await calls[0][0].close()
                await calls[0][1].close()
                calls = calls[1:]
                cpu_before, t0 = cpu.total(), time.monotonic()
                phases = await asyncio.gather(*(admit_to_first_frame(o, p) for o, p in calls))
                times = [p["total"] for p in phases]
                media_elapsed = time.monotonic() - t0
                cpu_media = cpu.total()
                relayed = await relay(calls, relay_s, cpu)
            finally:
                for officer, phone in calls:
                    await officer.close()
                    await phone.close()
        baseline = await asyncio.gather(*(direct_pair() for _ in range(pairs)))  # as many pairs, at once
    ok = median(times) <= TARGET_MEDIAN_S
    return {
        "bench": "checkins",
        "ok": ok,
        "pairs": pairs,
        "admit_to_first_frame_median_s": rnd(median(times)),
        "admit_to_first_frame_p95_s": rnd(percentile(times, 95)),
        "admit_to_first_frame_max_s": rnd(max(times)),
        "admit_to_first_frame_s": [rnd(t) for t in sorted(times)],
        "admit_to_first_frame_phases_median_s": {k: rnd(median([p[k] for p in phases]))
                                                 for k in ("admit_to_admitted", "admitted_to_answer",
                                                           "answer_to_first_frame")},
        "single_pair_admit_to_first_frame_s": {k: rnd(v) for k, v in alone.items()},
        "baseline_direct_offer_to_first_frame_median_s": rnd(median(baseline)),
        "baseline_direct_offer_to_first_frame_p95_s": rnd(percentile(baseline, 95)),
        "server_cpu_pct_during_call_setup": rnd(100 * (cpu_media - cpu_before) / media_elapsed, 1)
        if cpu_media is not None and cpu_before is not None else None,
        "signalling_frames_per_s": relayed["frames_per_s"],
        "server_cpu_pct": relayed["server_cpu_pct"],
        "relay": relayed,
        "target": {"admit_to_first_frame_median_s_max": TARGET_MEDIAN_S},
        "machine": machine(),
        "elapsed_s": rnd(time.monotonic() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--relay-s", type=float, default=5.0)
    args = parser.parse_args()
    started = time.monotonic()
    try:
        result = asyncio.run(asyncio.wait_for(run(args.pairs, args.relay_s), timeout=600))
    except (BenchError, TimeoutError, AssertionError, aiohttp.ClientError) as err:
        print(f"bench failed: {err!r}", file=sys.stderr)
        emit({"bench": "checkins", "ok": False, "error": str(err) or type(err).__name__,
              "elapsed_s": rnd(time.monotonic() - started, 1)})
        return 1
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
