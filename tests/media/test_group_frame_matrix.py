"""The authorisation matrix of the live group frames (issue 14): every control frame from
every role that does not run the session, and from someone who never joined it, over the
real /ws gateway, on SQLite and PostgreSQL.

Columns: an admitted participant, the programme mentor as observer, the room's paired
device, a participant still in the lobby, a same-office facilitator and an office-B
facilitator who never joined. Every control frame (``protocol.CONTROL``) is refused to the
first three with ``not_facilitator`` and to the last three with ``not_in_room``, and the
session is exactly as before; a join by
anyone with no part in the session (other roles of office A, every role of office B) is
answered as if the session did not exist. The co-facilitator's column is allowed: lock,
unlock and clearing hands take effect. The facilitator's own controls are exercised in
test_group_ws.py, test_group_breakouts.py and test_group_six.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server.groups import protocol as p
from server.groups.session_values import Role
from server.groups.sessions import NewSession
from server.identity.model import Role as UserRole
from server.web.ws_group import GROUP_LIVE
from tests.helpers.peers import until
from tests.helpers.sfubots import Bot
from tests.helpers.world import PASSWORD, add_office_b, login
from tests.media.test_group_ws import Member, live_app

__all__ = ["live_app"]


async def connect(client: Any, headers: dict[str, str], name: str) -> Member:
    ws = await client.ws_connect("/ws", headers=headers)
    await ws.send_json({"type": "hello"})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    return Member(name, ws, Bot(name, audio_slots=2, video_slots=2), http=(client, headers))


def control_frames(participant: str) -> list[dict[str, Any]]:
    """One valid frame of each control type, about ``participant``."""
    by_type: dict[str, dict[str, Any]] = {
        "group.admit": {"participant": participant}, "group.deny": {"participant": participant},
        "group.mute": {"participant": participant}, "group.allow_unmute": {"participant": participant},
        "group.remove": {"participant": participant}, "group.lock": {"locked": True},
        "group.camera_stop": {"participant": participant}, "group.spotlight": {"participant": participant},
        "group.hand_lower": {"participant": participant}, "group.hands_clear": {},
        "group.breakouts": {"minutes": 5, "rooms": [{"name": "A", "participants": [participant]}]},
        "group.move": {"participant": participant, "room": "A"}, "group.return_all": {},
        "group.visit": {"room": "A"}, "group.end": {},
    }
    tags = {t.__struct_config__.tag for t in p.CONTROL}
    assert tags == set(by_type), tags ^ set(by_type)  # a new control frame needs its row here
    return [{"type": kind, **fields} for kind, fields in by_type.items()]


def snapshot(live: Any, sid: str) -> Any:
    s = live.live[sid].session
    return (s.state, s.rooms, tuple(s.hands), s.spotlight,
            tuple(sorted((q.id, q.place, q.room, q.audio, q.video, q.hard_muted) for q in s.people.values())))


@pytest.mark.timeout(240)
async def test_group_frames_by_role(live_app: Any) -> None:
    client, services, w = live_app
    await add_office_b(services, w)
    live = client.app[GROUP_LIVE]
    ident, senior = services.identity, w.actor("senior")
    co = await ident.create_user(None, username="co", display_name="Co", role=UserRole.FACILITATOR,
                                 office_id=w.offices["A"], password=PASSWORD)
    pm = await ident.create_user(None, username="pm", display_name="Programme Mentor", role=UserRole.FACILITATOR,
                                 office_id=w.offices["A"], password=PASSWORD)
    fac_a2 = await ident.create_user(None, username="fac_a2", display_name="Other Facilitator",
                                     role=UserRole.FACILITATOR, office_id=w.offices["A"], password=PASSWORD)
    assert fac_a2
    fac = w.actor("facilitator")
    cohort_id = await services.groups.create_cohort(fac, name="Matrix", programme="Thinking Skills")
    for key in ("own", "same_office"):
        await services.groups.enrol(fac, cohort_id, w.cases[key])
    room = await services.rooms.create_room(senior, name="Room 1", kind="office")
    start = services.clock.now() + timedelta(minutes=5)
    sid = (await services.group_sessions.schedule(fac, cohort_id, NewSession(
        start, start + timedelta(hours=1), room_id=room)))[0].id
    await services.group_sessions.add_staff(fac, sid, co, Role.CO_FACILITATOR)
    await services.group_sessions.add_staff(fac, sid, pm, Role.OBSERVER)
    pairing = await services.rooms.start_pairing()
    await services.rooms.pair(senior, room, pairing.code, "Room PC")
    claimed = await services.rooms.claim(pairing.device_id, pairing.secret, kind="bearer", address="test")
    assert claimed is not None

    people: list[Member] = []
    try:
        async def joined(headers: dict[str, str], name: str, state: str) -> Member:
            m = await connect(client, headers, name)
            people.append(m)
            assert (await m.join(sid))["state"] == state, name
            return m

        facilitator = await joined(await login(client, "facilitator"), "facilitator", "present")
        # The facilitator's frames are read in order: their own media answer comes before the admit
        # is read, so wait for it (under a loaded CI the SFU's answer took seconds).
        await facilitator.next("group.answer", within_s=30)
        participant = await joined(await login(client, "client"), "participant", "waiting")
        await facilitator.send(type="group.admit", session=sid, participant=participant.participant)
        await participant.next("group.notice", kind="admitted")
        waiting = await joined(await login(client, "client_same"), "waiting", "waiting")
        co_fac = await joined(await login(client, "co"), "co_facilitator", "present")
        observer = await joined(await login(client, "pm"), "observer", "present")
        device = await joined({"Authorization": f"Bearer {claimed.token}"}, "room_device", "present")
        roles = {m.participant: live.live[sid].session.people[m.participant].role
                 for m in (facilitator, participant, co_fac, observer, device)}
        assert roles == {facilitator.participant: Role.FACILITATOR, participant.participant: Role.PARTICIPANT,
                         co_fac.participant: Role.CO_FACILITATOR, observer.participant: Role.OBSERVER,
                         device.participant: Role.ROOM_DEVICE}
        never_joined = [await connect(client, await login(client, name), name) for name in ("fac_a2",
                                                                                           "facilitator_b")]
        people += never_joined

        # Every control frame, from each column that may not send it: refused, nothing moves.
        frames = control_frames(participant.participant)
        before = snapshot(live, sid)
        cells = [(m, "not_facilitator") for m in (participant, observer, device)]
        cells += [(m, "not_in_room") for m in (waiting, *never_joined)]
        for m, code in cells:
            for i, frame in enumerate(frames):
                ref = f"{m.name}-{i}"
                await m.send(**frame, session=sid, id=ref)
                refused = await m.next("error", ref=ref)
                assert refused["code"] == code, (m.name, frame["type"], refused)
        assert snapshot(live, sid) == before

        # A join by anyone with no part in the session: as if it did not exist.
        for name in ("officer", "officer2", "senior_b", "mentor", "partner", "interpreter", "client_other",
                     "facilitator_b", "admin_b", "mentor_b", "partner_b"):
            m = await connect(client, await login(client, name), name)
            people.append(m)
            await m.send(type="group.join", session=sid, sdp=await m.bot.offer(), id="j")
            refused = await m.next("error", ref="j")
            assert refused["code"] in ("not_found", "forbidden"), (name, refused)
        assert snapshot(live, sid) == before

        # The co-facilitator's column: allowed, and it takes effect.
        await co_fac.send(type="group.lock", session=sid, locked=True)
        await until(lambda: live.live[sid].session.state.value == "locked", within_s=5, what="locked by co")
        await participant.send(type="group.hand", session=sid, raised=True, id="h")
        await co_fac.send(type="group.lock", session=sid, locked=False)
        await until(lambda: live.live[sid].session.state.value != "locked", within_s=5, what="unlocked by co")
        await co_fac.send(type="group.hands_clear", session=sid)
        await until(lambda: not live.live[sid].session.hands, within_s=5, what="hands cleared by co")
    finally:
        for m in people:
            await m.close()
