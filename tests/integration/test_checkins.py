"""Check-ins over HTTP on SQLite and PostgreSQL: scheduling gates, link codes and the
sessions they give, the safe-space check, the outcome, and the seam for appointments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.signalling.turn import valid
from server.store.schema import audit_log, checkins, safe_space_answers
from server.web.state import Services
from tests.helpers.checkins import pass_safe_space, peer, schedule, view
from tests.helpers.http import error_of, from_address
from tests.helpers.world import build, login


def window(services: Services, starts_in: timedelta = timedelta(minutes=-5)) -> dict[str, str]:
    start = services.clock.now() + starts_in
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=45)).isoformat()}


async def actions(services: Services, name: str) -> int:
    async with services.store.read("test.audit") as conn:
        return int((await conn.execute(select(func.count()).select_from(audit_log)
                                       .where(audit_log.c.action == name))).scalar_one())


async def test_scheduling_is_gated_by_face_to_face_first_scope_and_offers_alternatives(api: Any) -> None:
    client, services = api
    w = await build(services)
    officer2, officer3, officer = [await login(client, u) for u in ("officer2", "officer3", "officer")]
    resp = await client.post(f"/api/cases/{w.cases['same_office']}/checkins", headers=officer2, json=window(services))
    err = await error_of(resp, 403, "policy_refused")
    assert err["rule_id"] == "face_to_face_first"
    resp = await client.post(f"/api/cases/{w.cases['own']}/checkins", headers=officer3, json=window(services))
    assert (await error_of(resp, 403, "policy_refused"))["rule_id"] == "scope"
    bad = window(services) | {"ends_at": window(services)["starts_at"]}
    await error_of(await client.post(f"/api/cases/{w.cases['own']}/checkins", headers=officer, json=bad), 422)
    naive = {"starts_at": "2026-01-05T09:00:00", "ends_at": "2026-01-05T09:30:00"}
    await error_of(await client.post(f"/api/cases/{w.cases['own']}/checkins", headers=officer, json=naive), 422)

    resp = await client.post(f"/api/cases/{w.cases['own']}/checkins", headers=officer, json=window(services))
    body = await resp.json()
    assert resp.status == 201, body
    assert (body["state"], body["alternatives"]) == ("scheduled", [])

    created = await services.cases.create_case(w.actor("senior"), client_username="offline",
                                               client_display_name="Offline", officer_id=w.users["officer"],
                                               low_digital_access=True)
    await services.cases.record_face_to_face(w.actor("officer"), created.case_id,
                                             met_at=services.clock.now() - timedelta(days=1), location="Office")
    resp = await client.post(f"/api/cases/{created.case_id}/checkins", headers=officer, json=window(services))
    assert (await resp.json())["alternatives"] == ["phone", "in_person"]

    listed = await (await client.get("/api/checkins", headers=officer)).json()
    assert len(listed["checkins"]) == 2
    # Each names its client, so "who is waiting" can say who before any lobby frame arrives.
    assert sorted(c["client"]["display_name"] for c in listed["checkins"]) == ["Client", "Offline"]
    mine = await (await client.get("/api/checkins", headers=await login(client, "client"))).json()
    assert [c["id"] for c in mine["checkins"]] == [body["id"]]


async def test_a_link_code_gives_one_session_limited_to_its_check_in(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    other = await schedule(services, w)
    officer = await login(client, "officer")
    link = await (await client.post(f"/api/checkins/{checkin_id}/link", headers=officer)).json()
    assert link["path"] == f"/#/checkin?c={checkin_id}&code={link['code']}"
    await error_of(await client.post(f"/api/checkins/{other}/code-session", json={"code": link["code"],
                                                                                   "kind": "bearer"}), 401)
    resp = await client.post(f"/api/checkins/{checkin_id}/code-session", json={"code": link["code"],
                                                                                "kind": "bearer"})
    body = await resp.json()
    assert resp.status == 200, body
    assert body["user"]["id"] == w.users["client"] and body["checkin_id"] == checkin_id
    again = await client.post(f"/api/checkins/{checkin_id}/code-session", json={"code": link["code"],
                                                                                 "kind": "bearer"})
    await error_of(again, 401, "unauthenticated")  # single use
    limited = {"Authorization": f"Bearer {body['token']}"}

    assert (await client.get("/api/me", headers=limited)).status == 200
    assert (await error_of(await client.get("/api/my/case", headers=limited), 403))["rule_id"] == "scope"
    await error_of(await client.get("/api/conversations", headers=limited), 403)
    await error_of(await client.get(f"/api/checkins/{other}", headers=limited), 404, "not_found")
    mine = await (await client.get(f"/api/checkins/{checkin_id}", headers=limited)).json()
    # The waiting room and the call name both people; a check-in without an appointment has no start.
    assert (mine["officer"], mine["client"]) == ({"id": w.users["officer"], "display_name": "Officer"},
                                                 {"id": w.users["client"], "display_name": "Client"})
    assert "starts_at" not in mine and "evidence" not in mine
    await pass_safe_space(client, limited, checkin_id)

    ws = await peer(client, limited)
    conversation = (await (await client.get("/api/conversations", headers=officer)).json())["conversations"][0]
    await ws.send(type="send", id="m1", conversation_id=conversation["id"], body="hello")
    err = await ws.next("error")
    assert (err["code"], err["rule_id"], err["ref"]) == ("forbidden", "scope", "m1")
    await services.bus.publish(f"user.{w.users['client']}", b'{"type":"message","body":"private"}')
    await ws.send(type="join", room=checkin_id)
    assert (await ws.next("joined"))["state"] == "waiting"
    await ws.drain()
    assert not any(f["type"] == "message" for f in ws.seen)  # no messages reach a link session
    await ws.close()

    link2 = await (await client.post(f"/api/checkins/{other}/link", headers=officer)).json()
    services.clock.advance(timedelta(hours=2))  # the code expires with the window
    await error_of(await client.post(f"/api/checkins/{other}/code-session", json={"code": link2["code"]}), 401)


def code_session_writes(services: Services) -> float:
    return services.metrics.get_sample_value("tandem_transaction_seconds_count",
                                             {"name": "checkin.code_session"}) or 0.0


async def test_wrong_link_codes_are_throttled_per_check_in_and_address_before_any_write(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    link = await (await client.post(f"/api/checkins/{checkin_id}/link", headers=await login(client, "officer"))).json()
    url = f"/api/checkins/{checkin_id}/code-session"
    for _ in range(services.settings.login_limit_per_source):
        await error_of(await client.post(url, json={"code": "WRONG", "kind": "bearer"}), 401, "unauthenticated")
    writes = code_session_writes(services)
    resp = await client.post(url, json={"code": link["code"], "kind": "bearer"})
    await error_of(resp, 429, "rate_limited")
    assert "Retry-After" in resp.headers
    assert code_session_writes(services) == writes
    # The check-in as a whole is not blocked: the client's phone elsewhere still gets in.
    async with from_address("127.0.0.2") as phone:
        resp = await phone.post(client.make_url(url), json={"code": link["code"], "kind": "bearer"})
        assert resp.status == 200, await resp.text()
    services.clock.advance(services.settings.login_max_block_s + 1)
    await error_of(await client.post(url, json={"code": "WRONG", "kind": "bearer"}), 401)


async def test_wrong_link_codes_over_several_check_ins_add_up_per_address(app_factory: Any) -> None:
    client, services = await app_factory(login_limit_per_address=6)
    w = await build(services)
    ids = [await schedule(services, w) for _ in range(3)]
    for checkin_id in ids[:2]:
        for _ in range(3):
            await error_of(await client.post(f"/api/checkins/{checkin_id}/code-session", json={"code": "WRONG"}), 401)
    await error_of(await client.post(f"/api/checkins/{ids[2]}/code-session", json={"code": "WRONG"}), 429,
                   "rate_limited")


async def test_safe_space_questions_by_flags_failure_alerts_the_officer_quietly(api: Any) -> None:
    client, services = api
    w = await build(services)
    await services.cases.grant_exception(w.actor("senior"), w.cases["same_office"], days=3, reason="distance")
    checkin_id = await schedule(services, w, case="same_office", by="officer2")
    officer2 = await login(client, "officer2")
    watcher = await peer(client, officer2)
    cli = await login(client, "client_same")
    asked = await (await client.get(f"/api/checkins/{checkin_id}/safe-space", headers=cli)).json()
    assert asked["side"] == "client" and not asked["passed"]
    ids = [q["id"] for q in asked["questions"]]
    assert ids[-3:] == ["protected_person_not_near", "talking_freely", "not_at_shared_address"]
    staff = await (await client.get(f"/api/checkins/{checkin_id}/safe-space", headers=officer2)).json()
    assert [q["id"] for q in staff["questions"]] == ["private_room", "headset", "screen_not_overlooked"]

    partial = {"answers": {"private_place": True}}
    await error_of(await client.post(f"/api/checkins/{checkin_id}/safe-space", headers=cli, json=partial), 422)
    answers = dict.fromkeys(ids, True) | {"not_at_shared_address": False}
    resp = await client.post(f"/api/checkins/{checkin_id}/safe-space", headers=cli, json={"answers": answers})
    assert await resp.json() == {"passed": False, "ended": True}
    alert = await watcher.next("checkin_alert")
    assert (alert["checkin_id"], alert["kind"]) == (checkin_id, "safe_space_failed")
    async with services.store.read("test.answers") as conn:
        rows = (await conn.execute(select(safe_space_answers))).all()
        state = (await conn.execute(select(checkins.c.state).where(checkins.c.id == checkin_id))).scalar_one()
    assert len(rows) == 1 and rows[0].passed is False and b"not_at_shared_address" not in rows[0].body
    assert state == "not_safe"
    ws = await peer(client, cli)  # a failed check does not let them in
    await ws.send(type="join", room=checkin_id)
    assert (await ws.next("error"))["rule_id"] == "safe_space"
    # the client tries again later: a pass lets them into the waiting room
    resp = await client.post(f"/api/checkins/{checkin_id}/safe-space", headers=cli,
                             json={"answers": dict.fromkeys(ids, True)})
    assert (await resp.json())["passed"] is True
    mine = await view(client, checkin_id, cli)
    assert "evidence" not in mine and "suggestion" not in mine  # evidence is for staff
    await ws.send(type="join", room=checkin_id)
    assert (await ws.next("joined"))["state"] == "waiting"
    assert not any(f["type"] == "checkin_alert" for f in ws.seen)  # nothing of the alert on the client's side
    await ws.close()
    await watcher.close()


async def test_outcome_recorded_once_with_the_suggestion_and_audited(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    officer = await login(client, "officer")
    detail = await view(client, checkin_id, officer)
    assert detail["suggestion"] == {"outcome": "missed", "reasons": ["The client never reached the waiting room"]}
    assert await actions(services, "checkin.read") == 1
    body = {"outcome": "technical_failure", "note": "Phone battery died; rebooked for tomorrow"}
    resp = await client.post(f"/api/checkins/{checkin_id}/outcome", headers=officer, json=body)
    out = await resp.json()
    assert resp.status == 200, out
    assert (out["state"], out["outcome"]) == ("closed", "technical_failure")
    again = await client.post(f"/api/checkins/{checkin_id}/outcome", headers=officer, json=body)
    await error_of(again, 409, "illegal_transition")
    async with services.store.read("test.note") as conn:
        note = (await conn.execute(select(checkins.c.outcome_note).where(checkins.c.id == checkin_id))).scalar_one()
    assert b"battery" not in note
    assert await actions(services, "checkin.outcome") == 1
    cli = await login(client, "client")
    await error_of(await client.post(f"/api/checkins/{checkin_id}/outcome", headers=cli, json=body), 403)
    # a closed check-in is not joined any more
    ws = await peer(client, cli)
    await ws.send(type="join", room=checkin_id)
    assert (await ws.next("error"))["code"] == "illegal_transition"
    await ws.close()


async def test_open_for_appointment_joins_the_callers_transaction(api: Any) -> None:
    _client, services = api
    w = await build(services)
    now = services.clock.now()
    async with services.store.write("test.appointment") as conn:
        made = await services.checkins.open_for_appointment(
            conn, w.actor("officer"), {"id": "appt-1", "case_id": w.cases["own"]}, now, now + timedelta(minutes=30))
    assert made.row.appointment_id == "appt-1"

    class Boom(Exception):
        pass

    async def appointment_that_fails() -> None:
        async with services.store.write("test.appointment.rollback") as conn:
            await services.checkins.open_for_appointment(
                conn, w.actor("officer"), {"id": "appt-2", "case_id": w.cases["own"]}, now, now + timedelta(hours=1))
            raise Boom

    with pytest.raises(Boom):
        await appointment_that_fails()
    async with services.store.read("test.count") as conn:
        ids = (await conn.execute(select(checkins.c.appointment_id))).scalars().all()
    assert ids == ["appt-1"]  # the failed appointment took its check-in with it
    async with services.store.write("test.appointment.cancel") as conn:
        cancelled = await services.checkins.cancel_for_appointment(conn, w.actor("officer"), "appt-1")
    assert cancelled == [made.row.id]
    async with services.store.read("test.state") as conn:
        state = (await conn.execute(select(checkins.c.state))).scalar_one()
    assert state == "cancelled"


async def test_ice_servers_carry_expiring_turn_credentials(app_factory: Any) -> None:
    client, services = await app_factory(turn_urls=("turns:turn.example.org:5349",), stun_urls=("stun:127.0.0.1",),
                                         turn_secret="coturn-secret", turn_ttl_s=300)
    w = await build(services)
    checkin_id = await schedule(services, w)
    cli = await login(client, "client")
    body = await (await client.get(f"/api/checkins/{checkin_id}/ice-servers", headers=cli)).json()
    assert body["ice_transport_policy"] == "all"
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:127.0.0.1"]}
    assert turn["username"].endswith(f":{w.users['client']}")
    assert valid("coturn-secret", turn["username"], turn["credential"], services.clock.now())
    services.clock.advance(300)
    assert not valid("coturn-secret", turn["username"], turn["credential"], services.clock.now())
