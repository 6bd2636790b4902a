"""Check-in signalling over the real /ws gateway, on SQLite and PostgreSQL: two (or three)
real websocket clients, refusals with their codes and rule ids, and bad input that leaves
other calls untouched."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select

from server.signalling.turn import valid
from server.store.schema import call_quality, checkin_events
from server.web.state import Services
from server.web.ws_signalling import SIGNALLING
from tests.helpers.checkins import in_call, pass_safe_space, peer, ready, schedule, view
from tests.helpers.world import build, login

HOST = "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0"
SRFLX = "candidate:2 1 udp 1686052607 203.0.113.5 54321 typ srflx raddr 192.168.1.20 rport 54321"
RELAY = "candidate:3 1 udp 41885439 198.51.100.9 3478 typ relay raddr 203.0.113.5 rport 54321"
SDP = ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
       f"c=IN IP4 192.168.1.20\r\na={HOST}\r\na={SRFLX}\r\na={RELAY}\r\n")


async def count(services: Services, table: Any) -> int:
    async with services.store.read("test.count") as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_whole_check_in_waiting_room_admit_offer_answer_candidates_stats_leave(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    off_headers, off = await ready(client, "officer", checkin_id)
    _, cli = await ready(client, "client", checkin_id)

    await off.send(type="join", room=checkin_id, id="j1")
    joined = await off.next("joined")
    assert joined["state"] == "admitted" and joined["ref"] == "j1"
    assert joined["ice_servers"] == [] and joined["ice_transport_policy"] == "all"  # explicit, never absent
    assert (await off.next("admitted"))["peers"] == []

    await cli.send(type="join", room=checkin_id)
    waiting = await cli.next("joined")
    assert waiting["state"] == "waiting"
    lobby = await off.next("lobby")  # over the bus, to the officer wherever they are
    assert lobby["checkin_id"] == checkin_id and [x["user_id"] for x in lobby["waiting"]] == [w.users["client"]]
    await off.next("room")  # the officer alone
    snapshot = await off.next("room")
    assert [(s["user_id"], s["state"]) for s in snapshot["participants"]][-1] == (w.users["client"], "waiting")
    assert (await client.get(f"/api/checkins/{checkin_id}", headers=off_headers)).status == 200

    await off.send(type="admit", room=checkin_id, participant=waiting["participant"])
    admitted = await cli.next("admitted")
    assert admitted["peers"] == [joined["participant"]]  # the newcomer offers
    assert (await off.next("peer_joined"))["participant"] == waiting["participant"]
    assert (await off.next("lobby"))["waiting"] == []

    officer_p, client_p = joined["participant"], waiting["participant"]
    await cli.send(type="offer", room=checkin_id, to=officer_p, sdp="v=0\r\noffer\r\n")
    assert await off.next("offer") == {"type": "offer", "room": checkin_id, "from": client_p, "sdp": "v=0\r\noffer\r\n"}
    await off.send(type="answer", room=checkin_id, to=client_p, sdp="v=0\r\nanswer\r\n")
    assert (await cli.next("answer"))["from"] == officer_p
    await cli.send(type="candidate", room=checkin_id, to=officer_p, candidate=HOST, sdp_mid="0", sdp_mline_index=0)
    got = await off.next("candidate")
    assert (got["candidate"], got["sdp_mid"], got["sdp_mline_index"]) == (HOST, "0", 0)
    # switching to audio only: announced, then renegotiated like any offer
    await cli.send(type="media", room=checkin_id, audio=True, video=False)
    assert (await off.next("peer_media"))["video"] is False
    await cli.send(type="offer", room=checkin_id, to=officer_p, sdp="v=0\r\naudio-only\r\n")
    assert (await off.next("offer"))["sdp"] == "v=0\r\naudio-only\r\n"

    await cli.send(type="stats", room=checkin_id, rtt_ms=40, loss_pct=0.1, bitrate_kbps=800)
    await cli.send(type="stats", room=checkin_id, rtt_ms=40, loss_pct=0.1, bitrate_kbps=800)  # too soon: ignored
    services.clock.advance(2)
    await off.send(type="stats", room=checkin_id, rtt_ms=60, loss_pct=0.3, bitrate_kbps=700)
    await off.send(type="ping", id="sync")
    await off.next("pong")
    await cli.send(type="ping", id="sync-client")  # the client's sample is kept by its own connection
    await cli.next("pong")
    assert await count(services, call_quality) == 2

    detail = await view(client, checkin_id, off_headers)
    assert detail["state"] == "in_call"
    await cli.send(type="leave", room=checkin_id)
    assert (await cli.next("left"))["room"] == checkin_id
    assert (await off.next("peer_left")) == {"type": "peer_left", "room": checkin_id, "participant": client_p,
                                             "reason": "left"}
    await off.send(type="end", room=checkin_id)
    assert (await off.next("ended"))["reason"] == "ended_by_host"
    await off.send(type="ping", id="sync2")
    await off.next("pong")

    detail = await view(client, checkin_id, off_headers)
    assert detail["state"] == "ended"
    people = {p["user_id"]: p for p in detail["evidence"]["participants"]}
    assert len(people[w.users["client"]]["joined_at"]) == 1 and len(people[w.users["client"]]["left_at"]) == 1
    assert detail["evidence"]["quality"]["samples"] == 2 and detail["evidence"]["quality"]["poor"] is False
    assert detail["suggestion"]["outcome"] == "attended"
    # evidence is ciphertext at rest
    async with services.store.read("test.evidence") as conn:
        bodies = [r.body for r in (await conn.execute(select(checkin_events))).all()]
    assert bodies and not any(w.users["client"].encode() in b for b in bodies)
    await off.close()
    await cli.close()


async def test_refusals_safe_space_window_and_sdp_from_the_lobby(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    later = await schedule(services, w, starts_in=timedelta(hours=2))
    cli_headers = await login(client, "client")
    cli = await peer(client, cli_headers)

    await cli.send(type="join", room=checkin_id, id="a")  # no safe-space check yet
    err = await cli.next("error")
    assert (err["code"], err["rule_id"], err["ref"]) == ("policy_refused", "safe_space", "a")

    await pass_safe_space(client, cli_headers, later)
    await cli.send(type="join", room=later, id="b")
    err = await cli.next("error")
    assert err["code"] == "outside_window" and "UTC" in err["message"]

    await pass_safe_space(client, cli_headers, checkin_id)
    await cli.send(type="join", room=checkin_id)
    waiting = await cli.next("joined")
    await cli.send(type="offer", room=checkin_id, to="p1", sdp="v=0", id="c")
    err = await cli.next("error")
    assert (err["code"], err["ref"]) == ("not_admitted", "c")
    await cli.send(type="admit", room=checkin_id, participant=waiting["participant"])
    assert (await cli.next("error"))["code"] == "not_host"

    # the officer passes their own check too: a headset missing keeps them out, and the client
    # waiting is told so (issue 13) rather than left waiting for nobody
    officer = await login(client, "officer")
    answers = {"private_room": True, "headset": False, "screen_not_overlooked": True}
    resp = await client.post(f"/api/checkins/{checkin_id}/safe-space", headers=officer, json={"answers": answers})
    assert await resp.json() == {"passed": False, "ended": True}
    assert (await cli.next("ended"))["reason"] == "officer_unavailable"
    off = await peer(client, officer)
    await off.send(type="join", room=checkin_id)
    assert (await off.next("error"))["rule_id"] == "safe_space"
    await off.send(type="ping", id="sync")
    await off.next("pong")
    assert (await view(client, checkin_id, officer))["state"] == "scheduled"  # no penalty, no outcome implied
    await off.drain()
    assert not any(f["type"] == "checkin_alert" for f in off.seen)
    await off.close()
    await cli.close()


async def test_face_to_face_first_refuses_joining_after_a_change_of_officer(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    await services.cases.change_officer(w.actor("senior"), w.cases["own"], w.users["officer2"])
    for username in ("officer2", "client"):
        headers = await login(client, username)
        await pass_safe_space(client, headers, checkin_id)
        p = await peer(client, headers)
        await p.send(type="join", room=checkin_id)
        err = await p.next("error")
        assert (err["code"], err["rule_id"]) == ("policy_refused", "face_to_face_first"), err
        assert "face-to-face" in err["message"]
        await p.close()


async def test_bad_input_gets_clear_errors_and_other_calls_go_on(app_factory: Any) -> None:
    client, services = await app_factory(ws_frame_rate=10_000, ws_frame_burst=10_000)
    w = await build(services)
    room_a = await schedule(services, w)
    # a second case, with no face-to-face meeting but a senior's exception
    await services.cases.grant_exception(w.actor("senior"), w.cases["same_office"], days=3, reason="hospital")
    room_b = await schedule(services, w, case="same_office", by="officer2")
    off, cli, joined, _ = await in_call(client, room_a)
    officer_p = joined["participant"]

    stranger_headers = await login(client, "client_other")
    stranger = await peer(client, stranger_headers)
    await stranger.send(type="join", room=room_a, id="x")  # someone else's check-in
    assert (await stranger.next("error"))["code"] == "not_found"
    await stranger.send(type="join", room="f" * 32)  # a forged id
    assert (await stranger.next("error"))["code"] == "not_found"
    await stranger.send(type="offer", room=room_a, to=officer_p, sdp="v=0")  # a room it is not in
    assert (await stranger.next("error"))["code"] == "not_in_room"
    await stranger.send(type="candidate", room=room_a, to=officer_p, candidate=HOST)
    assert (await stranger.next("error"))["code"] == "not_in_room"

    await cli.send(type="offer", room=room_a, to=officer_p, sdp="v" * 12_001)  # oversized SDP
    assert (await cli.next("error"))["code"] == "invalid_frame"
    await cli.send(type="offer", room=room_a, to="p99", sdp="v=0")  # a forged participant
    assert (await cli.next("error"))["code"] == "not_admitted"
    for _ in range(60):
        await cli.send(type="candidate", room=room_a, to=officer_p, candidate=HOST)
    await cli.send(type="candidate", room=room_a, to=officer_p, candidate=HOST, id="flood")
    err = await cli.next("error")
    assert (err["code"], err["ref"]) == ("limit_exceeded", "flood")
    for _ in range(60):
        await off.next("candidate")
    # nothing else reached the officer, and the call still works
    await cli.send(type="offer", room=room_a, to=officer_p, sdp="v=0\r\nstill here\r\n")
    assert (await off.next("offer"))["sdp"] == "v=0\r\nstill here\r\n"
    assert not any(f["type"] == "error" for f in off.seen)

    # another call at the same time is untouched by all of the above
    off2, cli2, joined2, _ = await in_call(client, room_b, officer="officer2", client_user="client_same")
    await cli2.send(type="offer", room=room_b, to=joined2["participant"], sdp="v=0\r\nb\r\n")
    assert (await off2.next("offer"))["from"] != officer_p
    assert not any(f.get("room") == room_b for f in off.seen + cli.seen)
    assert not any(f.get("room") == room_a for f in off2.seen + cli2.seen)
    for p in (off, cli, stranger, off2, cli2):
        await p.close()


async def test_force_relay_never_forwards_the_officers_host_or_srflx_candidates(app_factory: Any) -> None:
    client, services = await app_factory(turn_urls=("turn:127.0.0.1:3478",), turn_secret="shh", turn_ttl_s=600)
    w = await build(services)
    config = msgspec.to_builtins(services.policy.engine.policies.config("safe_space"))
    await services.policy.change_rule(w.actor("admin"), "safe_space", config | {"force_relay_for_staff": True},
                                      "officers work from home this winter")
    checkin_id = await schedule(services, w)
    off, cli, joined, admitted = await in_call(client, checkin_id)
    assert joined["ice_transport_policy"] == "relay"
    assert [s["urls"] for s in joined["ice_servers"]] == [["turn:127.0.0.1:3478"]]
    turn = joined["ice_servers"][0]
    assert valid("shh", turn["username"], turn["credential"], services.clock.now())
    assert next(f for f in cli.seen if f["type"] == "joined")["ice_transport_policy"] == "all"

    client_p, officer_p = admitted["participant"], joined["participant"]
    await cli.send(type="offer", room=checkin_id, to=officer_p, sdp=SDP)
    assert (await off.next("offer"))["sdp"] == SDP  # the client's own addresses are not hidden from staff
    await off.send(type="answer", room=checkin_id, to=client_p, sdp=SDP)
    for c in (HOST, SRFLX, RELAY):
        await off.send(type="candidate", room=checkin_id, to=client_p, candidate=c, sdp_mid="0", sdp_mline_index=0)
    assert (await cli.next("candidate"))["candidate"] == RELAY
    await off.send(type="ping", id="sync")
    await off.next("pong")
    await cli.drain()
    received = msgspec.json.encode(cli.seen).decode()
    assert "typ relay" in received
    for leak in ("typ host", "typ srflx", "192.168.1.20", "203.0.113.5 54321 typ srflx"):
        assert leak not in received, leak
    await off.close()
    await cli.close()


async def test_rejoin_within_the_grace_period_and_gone_after_it(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    off, cli, joined, admitted = await in_call(client, checkin_id)
    cli_headers = await login(client, "client")
    await cli.close()  # the phone lost its network
    assert (await off.next("peer_left"))["reason"] == "dropped"
    services.clock.advance(20)
    again = await peer(client, cli_headers)
    await again.send(type="join", room=checkin_id)
    rejoined = await again.next("joined")
    assert (rejoined["state"], rejoined["participant"]) == ("admitted", admitted["participant"])
    assert (await again.next("admitted"))["peers"] == [joined["participant"]]
    assert (await off.next("peer_joined"))["participant"] == admitted["participant"]

    await again.close()
    assert (await off.next("peer_left"))["reason"] == "dropped"
    services.clock.advance(31)
    assert (await off.next("peer_left", wait_s=5))["reason"] == "gone"  # the tick released the place
    detail = await view(client, checkin_id)
    assert detail["evidence"]["dropped"] is True
    assert detail["suggestion"]["outcome"] == "technical_failure"
    await off.close()


async def test_cant_talk_is_quiet_for_the_client_and_alerts_the_officer(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    off, cli, _, _ = await in_call(client, checkin_id)
    await cli.send(type="cant_talk", room=checkin_id)
    assert (await cli.next("ended"))["reason"] == "ended"
    alert = await off.next("checkin_alert")
    assert (alert["checkin_id"], alert["kind"]) == (checkin_id, "cant_talk_safely")
    assert (await off.next("peer_left"))["reason"] == "left"
    await cli.drain()
    assert not any(f["type"] == "checkin_alert" for f in cli.seen)
    detail = await view(client, checkin_id)
    assert detail["state"] == "not_safe" and detail["suggestion"]["outcome"] == "not_safe_to_talk"
    await off.close()
    await cli.close()


async def test_an_interpreter_joins_as_third_participant(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    off, cli, joined, admitted = await in_call(client, checkin_id)
    off_headers = await login(client, "officer")
    resp = await client.post(f"/api/checkins/{checkin_id}/interpreters", headers=off_headers,
                             json={"user_id": w.users["interpreter"]})
    assert resp.status == 204, await resp.text()
    _, interp = await ready(client, "interpreter", checkin_id)
    await interp.send(type="join", room=checkin_id)
    waiting = await interp.next("joined")
    assert waiting["state"] == "waiting"
    await off.send(type="admit", room=checkin_id, participant=waiting["participant"])
    assert (await interp.next("admitted"))["peers"] == [joined["participant"], admitted["participant"]]
    for p in (off, cli):
        assert (await p.next("peer_joined", role="interpreter"))["participant"] == waiting["participant"]
    await interp.send(type="offer", room=checkin_id, to=admitted["participant"], sdp="v=0\r\n")
    assert (await cli.next("offer"))["from"] == waiting["participant"]
    for p in (off, cli, interp):
        await p.close()


async def test_a_waiting_room_nobody_answers_closes_with_the_window(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w, length=timedelta(minutes=10))
    _, cli = await ready(client, "client", checkin_id)
    await cli.send(type="join", room=checkin_id)
    assert (await cli.next("joined"))["state"] == "waiting"
    services.clock.advance(timedelta(minutes=6))
    assert (await cli.next("ended", wait_s=5))["reason"] == "window_closed"  # the once-a-second tick
    await cli.send(type="join", room=checkin_id)
    assert (await cli.next("error"))["code"] == "outside_window"
    detail = await view(client, checkin_id)
    assert detail["state"] == "scheduled"  # back from waiting: nobody was connected
    assert detail["suggestion"]["outcome"] == "technical_failure"  # the client waited; it is not a miss
    await cli.close()


async def test_when_every_connection_is_lost_the_check_in_can_be_joined_again(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    off, cli, _, _ = await in_call(client, checkin_id)
    await off.close()
    await cli.close()
    rooms = client.app[SIGNALLING].rooms

    async def until(done: Any) -> None:
        for _ in range(50):
            if done():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("never happened")

    await until(lambda: all(p.state.value == "dropped" for p in rooms[checkin_id].room.participants.values()))
    services.clock.advance(31)
    await until(lambda: checkin_id not in rooms)  # the once-a-second tick released both places and the room
    assert (await view(client, checkin_id))["state"] == "in_call"  # not ended: nobody left on purpose
    off2, cli2, _, admitted = await in_call(client, checkin_id)
    assert admitted["peers"]
    for p in (off2, cli2):
        await p.close()
