"""The device test end to end: an aiortc peer (standing in for the phone) offers to the
server's echo peer over HTTP, gets its own audio and video back, and the server's
assessment says video on a clean loopback link. Refusals: no media, a full host, someone
else's test; and every peer is closed at its lifetime's end and when the app stops."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import AudioStreamTrack, RTCSessionDescription

from server.web.routes_media import ECHO
from tests.helpers.http import error_of
from tests.helpers.peers import SmallVideo, peer, until
from tests.helpers.world import login


async def _offer(client: Any, headers: dict[str, str], *, video: bool = True) -> tuple[Any, Any, Any]:
    pc, sink = peer()
    pc.addTrack(AudioStreamTrack())
    if video:
        pc.addTrack(SmallVideo(160, 120))
    await pc.setLocalDescription(await pc.createOffer())
    resp = await client.post("/api/media/echo", headers=headers,
                             json={"type": "offer", "sdp": pc.localDescription.sdp})
    return pc, sink, resp


async def _assess(client: Any, headers: dict[str, str], echo_id: str, **browser: Any) -> dict[str, Any]:
    resp = await client.post(f"/api/media/echo/{echo_id}/assessment", headers=headers, json=browser)
    body = await resp.json()
    assert resp.status == 200, body
    return dict(body)


def _candidate_hosts(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def test_echo_device_test_end_to_end(media_app: Any) -> None:
    client, _services, _w = await media_app()
    headers = await login(client, "client")
    pc, sink, resp = await _offer(client, headers)
    answer = await resp.json()
    assert resp.status == 201, answer
    try:
        assert _candidate_hosts(answer["sdp"]) == {"127.0.0.1"}  # explicit ICE, loopback only, no STUN
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        await until(lambda: sink.frames["video"] >= 30 and sink.frames["audio"] >= 50, what="echoed audio and video")
        # Round-trip time needs RTCP receiver reports about the echoed streams, and aiortc smooths
        # it: wait until it is measured and has settled (a starved CPU makes the first reports slow).
        result = await _assess(client, headers, answer["id"])
        for _ in range(60):
            if result["server"]["rtt_ms"] is not None and result["mode"] == "video":
                break
            await asyncio.sleep(0.25)
            result = await _assess(client, headers, answer["id"])
        server = result["server"]
        assert server["video_frames"] > 0 and server["audio_frames"] > 0, server
        assert server["rtt_ms"] is not None and 0 <= server["rtt_ms"] < 400, server
        assert server["loss_pct"] is not None and server["loss_pct"] <= 5, server
        assert server["bitrate_kbps"] is not None and server["bitrate_kbps"] > 150, server
        assert (result["mode"], result["reasons"]) == ("video", []), result

        # The browser's own view counts too: its bad numbers turn the verdict to audio only.
        worse = await _assess(client, headers, answer["id"], rtt_ms=900.0, loss_pct=12.0,
                              video_frames=sink.frames["video"])
        assert (worse["mode"], worse["reasons"]) == ("audio_only", ["rtt_high", "loss_high"]), worse
        assert worse["browser"]["rtt_ms"] == 900.0

        resp = await client.delete(f"/api/media/echo/{answer['id']}", headers=headers)
        assert resp.status in (200, 204)
        await error_of(await client.post(f"/api/media/echo/{answer['id']}/assessment", headers=headers, json={}),
                       404, "not_found")
    finally:
        await sink.close()
        await pc.close()


async def test_camera_that_sends_nothing_gets_audio_only(media_app: Any) -> None:
    client, _services, _w = await media_app()
    headers = await login(client, "client")
    pc, sink, resp = await _offer(client, headers)
    answer = await resp.json()
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        await until(lambda: sink.frames["audio"] >= 20, what="echoed audio")
        result = await _assess(client, headers, answer["id"], video_frames=0)  # the phone decoded no video
        assert result["mode"] == "audio_only" and "no_video" in result["reasons"], result
    finally:
        await sink.close()
        await pc.close()


async def test_refusals(media_app: Any) -> None:
    client, _services, _w = await media_app(echo_max_peers=1)
    client_headers = await login(client, "client")
    officer_headers = await login(client, "officer")
    await error_of(await client.post("/api/media/echo", json={"type": "offer", "sdp": "v=0 " * 10}), 401)
    await error_of(await client.post("/api/media/echo", headers=client_headers,
                                     json={"type": "offer", "sdp": "not an sdp at all"}), 422, "invalid_request")
    await error_of(await client.post("/api/media/echo", headers=client_headers,
                                     json={"type": "offer", "sdp": "x" * 40_000}), None, "invalid_request")
    pcs = []
    try:
        pc, sink, resp = await _offer(client, client_headers)
        pcs.append((pc, sink))
        mine = await resp.json()
        assert resp.status == 201, mine
        # One peer is the limit here: the officer is refused until the client's test ends...
        pc2, sink2, resp2 = await _offer(client, officer_headers)
        pcs.append((pc2, sink2))
        await error_of(resp2, 503, "unavailable")
        # ... and cannot see or end the client's test.
        await error_of(await client.post(f"/api/media/echo/{mine['id']}/assessment", headers=officer_headers,
                                         json={}), 404, "not_found")
        await error_of(await client.delete(f"/api/media/echo/{mine['id']}", headers=officer_headers), 404)
        # The client's retry replaces their own test instead of being refused.
        pc3, sink3, resp3 = await _offer(client, client_headers)
        pcs.append((pc3, sink3))
        again = await resp3.json()
        assert resp3.status == 201, again
        assert list(client.server.app[ECHO].peers) == [again["id"]]
    finally:
        for pc, sink in pcs:
            await sink.close()
            await pc.close()


async def test_peers_close_at_lifetime_end_and_when_the_app_stops(media_app: Any) -> None:
    # Long enough for an answer (ICE gathering) on a loaded 2-core machine: a lifetime that ends
    # while the answer is made closes the peer first, and the offer is refused.
    client, _services, _w = await media_app(echo_lifetime_s=3.0)
    host = client.server.app[ECHO]
    headers = await login(client, "client")
    pc, sink, resp = await _offer(client, headers)
    answer = await resp.json()
    assert resp.status == 201, answer
    first = host.peers[answer["id"]]
    await until(lambda: answer["id"] not in host.peers, within_s=10, what="the lifetime to end the peer")
    await until(lambda: first.pc.connectionState == "closed", within_s=5, what="the peer connection to close")
    await sink.close()
    await pc.close()

    pc, sink, resp = await _offer(client, headers)
    answer = await resp.json()
    assert resp.status == 201, answer
    second = host.peers[answer["id"]]
    await client.close()  # the app stops: cleanup_ctx closes what is still open
    assert host.peers == {}
    assert second.pc.connectionState == "closed"
    await sink.close()
    await pc.close()
