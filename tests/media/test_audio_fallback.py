"""Audio-only fallback, end to end through the server's signalling: two aiortc peers (the
client's phone and the officer) in a check-in; the officer's outgoing link loses packets;
the phone's `stats` cross the quality thresholds and the server advises audio only (a
`quality` frame); the phone switches and renegotiates, and afterwards only audio flows,
both ways."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from server.media.quality import Mode, recommend
from tests.helpers.callpeer import CallPeer
from tests.helpers.checkins import pass_safe_space, schedule
from tests.helpers.peers import until
from tests.helpers.world import login


def lose_every(pc: Any, n: int) -> None:
    """Drop every n-th packet this peer sends (a lossy uplink, as in aiortc's own tests)."""
    transport = pc.getTransceivers()[0].sender.transport
    original = transport._send_rtp
    count = 0

    async def lossy(data: bytes) -> None:
        nonlocal count
        count += 1
        if count % n:
            await original(data)

    transport._send_rtp = lossy


async def test_poor_quality_switches_to_audio_only(media_app: Any) -> None:
    client, services, w = await media_app()
    officer_h, client_h = await login(client, "officer"), await login(client, "client")
    checkin = await schedule(services, w)
    await pass_safe_space(client, officer_h, checkin)
    await pass_safe_space(client, client_h, checkin)
    base = str(client.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session, \
            CallPeer(session, base, client_h, checkin) as phone, CallPeer(session, base, officer_h, checkin) as officer:
        await phone.signal("join")
        assert (await phone.expect("joined"))["state"] == "waiting"
        await officer.signal("join")
        assert (await officer.expect("joined"))["state"] == "admitted"
        await until(lambda: any(f.get("type") == "lobby" and f["waiting"] for f in officer.frames),
                    what="the client in the officer's lobby")
        waiting = next(f for f in officer.frames if f.get("type") == "lobby" and f["waiting"])
        assert waiting["checkin_id"] == checkin
        await officer.signal("admit", participant=waiting["waiting"][0]["participant"])
        admitted = await phone.expect("admitted")
        officer_id = admitted["peers"][0]
        await until(lambda: officer_id in phone.links and phone.links[officer_id].sink.frames["video"] > 10,
                    what="the officer's video on the phone")
        client_id = phone.participant
        await until(lambda: client_id in officer.links and officer.links[client_id].sink.frames["video"] > 10,
                    what="the phone's video at the officer")

        # A clean link first: the phone's measurements recommend video (once aiortc's smoothed
        # round-trip time has settled; a starved CPU makes the first RTCP reports slow).
        await phone.sample(officer_id)
        clean = None
        for _ in range(20):
            await asyncio.sleep(0.5)
            clean = recommend(await phone.sample(officer_id))
            if clean.mode is Mode.VIDEO:
                break
        assert clean is not None and clean.mode is Mode.VIDEO, clean

        # The officer's uplink now loses one packet in four. The phone keeps sending its
        # stats; the server's advice comes back as a `quality` frame.
        lose_every(officer.links[client_id].pc, 4)
        for _ in range(40):
            await asyncio.sleep(0.5)
            measured = await phone.sample(officer_id)
            if measured.rtt_ms is not None and measured.loss_pct is not None and measured.bitrate_kbps is not None:
                await phone.signal("stats", rtt_ms=measured.rtt_ms, loss_pct=measured.loss_pct,
                                   bitrate_kbps=measured.bitrate_kbps, frames_decoded=measured.video_frames or 0,
                                   audio_only=False)
            if any(f.get("type") == "quality" for f in phone.frames):
                break
        advice = await phone.expect("quality", within_s=1)
        assert (advice["room"], advice["mode"]) == (checkin, "audio_only") and "loss_high" in advice["reasons"], advice
        assert not [f for f in officer.frames if f.get("type") == "quality"]  # the officer's own link is fine

        # The phone switches to voice only; the officer is told and answers the renegotiation.
        await phone.audio_only()
        media = await officer.expect("peer_media", participant=client_id)
        assert (media["audio"], media["video"]) == (True, False)
        await until(lambda: sum(f.get("type") == "answer" for f in phone.frames) >= 2,
                    what="the officer's answer to the renegotiation")
        await asyncio.sleep(1.0)  # packets already in flight arrive
        before = (await phone.inbound_packets(officer_id), await officer.inbound_packets(client_id))
        await asyncio.sleep(2.0)
        after = (await phone.inbound_packets(officer_id), await officer.inbound_packets(client_id))
        for side, (b, a) in zip(("phone", "officer"), zip(before, after, strict=True), strict=True):
            assert a["video"] == b["video"], f"{side} still receives video: {b} -> {a}"
            assert a["audio"] > b["audio"], f"{side} receives no audio: {b} -> {a}"
        assert not phone.errors() and not officer.errors(), (phone.errors(), officer.errors())
        assert not [f for f in phone.frames + officer.frames if f.get("type") == "peer_error"]

    # The stats the phone sent were kept as call-quality evidence of the check-in.
    resp = await client.get(f"/api/checkins/{checkin}", headers=officer_h)
    shown = await resp.json()
    assert resp.status == 200, shown
    assert shown["evidence"]["quality"]["samples"] >= 1, shown["evidence"]
