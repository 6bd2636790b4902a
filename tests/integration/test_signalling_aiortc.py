"""Two real aiortc peers through the server's signalling: the client offers after being
admitted, the officer answers, and video flows both ways. ICE servers are exactly the
ones the server handed out (none here), and the peers gather host candidates only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import VideoStreamTrack

from server.app import create_app
from server.web.state import SERVICES
from tests.conftest import make_settings
from tests.helpers.checkins import Peer, in_call, schedule
from tests.helpers.world import build


def pc_for(joined: dict[str, Any]) -> RTCPeerConnection:
    servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
               for s in joined["ice_servers"]]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))  # explicit, even when empty
    pc.addTrack(VideoStreamTrack())
    return pc


async def first_frame(pc: RTCPeerConnection, pulls: set[asyncio.Task[None]]) -> Any:
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def on_track(track: Any) -> None:
        async def pull() -> None:
            frame = await track.recv()
            if not got.done():
                got.set_result(frame)
        task = asyncio.ensure_future(pull())
        pulls.add(task)
        task.add_done_callback(pulls.discard)

    return got


async def relay_answer(officer: Peer, pc: RTCPeerConnection, room: str) -> None:
    offer = await officer.next("offer", wait_s=10)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    await officer.send(type="answer", room=room, to=offer["from"], sdp=pc.localDescription.sdp)


@pytest.mark.timeout(60)
async def test_two_aiortc_peers_call_through_the_signalling(tmp_path: Path, sqlite_url: str,
                                                            aiohttp_client: Any) -> None:
    app = create_app(make_settings(sqlite_url, tmp_path))
    client = await aiohttp_client(app)
    services = app[SERVICES]
    w = await build(services)
    room = await schedule(services, w)
    officer, cli, joined, admitted = await in_call(client, room)
    client_joined = next(f for f in cli.seen if f["type"] == "joined")
    pc_officer, pc_client = pc_for(joined), pc_for(client_joined)
    pulls: set[asyncio.Task[None]] = set()
    officer_sees, client_sees = await first_frame(pc_officer, pulls), await first_frame(pc_client, pulls)
    try:
        await pc_client.setLocalDescription(await pc_client.createOffer())  # the newcomer offers
        (officer_p,) = admitted["peers"]
        await cli.send(type="offer", room=room, to=officer_p, sdp=pc_client.localDescription.sdp)
        await relay_answer(officer, pc_officer, room)
        answer = await cli.next("answer", wait_s=10)
        await pc_client.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        frames = await asyncio.wait_for(asyncio.gather(officer_sees, client_sees), 30)
        assert all(f.width > 0 for f in frames)
        assert pc_client.connectionState == "connected" and pc_officer.connectionState == "connected"
        await cli.send(type="stats", room=room, rtt_ms=5, loss_pct=0, bitrate_kbps=500)
        await cli.send(type="leave", room=room)
        assert (await officer.next("peer_left"))["reason"] == "left"
        assert json.dumps(officer.seen).count('"type": "error"') == 0
    finally:
        await pc_client.close()
        await pc_officer.close()
        await officer.close()
        await cli.close()
