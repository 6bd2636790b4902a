"""One-time join links of group sessions (issue 14), as check-ins have them: those who run a
session make a participant's link; its code, spent once, opens a session that reaches this group
session only: over HTTP the routes flagged for it (``/api/me``, the session's .ics, its cohort's
agreement), on /ws pings and this session's group frames. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.groups.sessions import NewSession
from server.store.schema import audit_log
from tests.helpers.safe_space import pass_group_safe_space
from tests.helpers.world import add_office_b, build, login
from tests.integration.test_group_sessions import cohort_with_two


async def test_a_participants_join_link_opens_a_session_limited_to_that_group_session(api: Any) -> None:
    client, services = api
    w = await build(services)
    await add_office_b(services, w)
    cohort_id = await cohort_with_two(services, w)
    fac = w.actor("facilitator")
    other_cohort = await services.groups.create_cohort(fac, name="Other", programme="Thinking Skills")
    await services.groups.enrol(fac, other_cohort, w.cases["own"])
    await services.group_sessions.set_agreement(fac, cohort_id, text="What is said here stays here.",
                                                auto_admit=False)
    start = services.clock.now() + timedelta(minutes=5)
    [session] = await services.group_sessions.schedule(fac, cohort_id, NewSession(start, start + timedelta(hours=1)))
    [elsewhere] = await services.group_sessions.schedule(fac, other_cohort, NewSession(
        start, start + timedelta(hours=1)))
    f_h = await login(client, "facilitator")
    own = w.clients["own"]
    url = f"/api/group-sessions/{session.id}/participants/{own}/link"

    # Who may make a link, and for whom.
    for who, status in (("client", 403), ("officer", 403), ("facilitator_b", 404)):
        assert (await client.post(url, headers=await login(client, who))).status == status, who
    resp = await client.post(f"/api/group-sessions/{session.id}/participants/{w.users['officer']}/link", headers=f_h)
    assert resp.status == 404  # not a participant of this group
    resp = await client.post(url, headers=f_h)
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    assert made["path"] == f"/#/group-join?s={session.id}&code={made['code']}"
    assert made["expires_at"] == (start + timedelta(hours=1, minutes=15)).isoformat().replace("+00:00", "Z")

    # A wrong code, or the right code for another session, signs nobody in.
    exchange = f"/api/group-sessions/{session.id}/code-session"
    resp = await client.post(exchange, json={"code": "wrong", "kind": "bearer"})
    assert resp.status == 401 and (await resp.json())["error"]["reason"] == "group_session.bad_code"
    resp = await client.post(f"/api/group-sessions/{elsewhere.id}/code-session",
                             json={"code": made["code"], "kind": "bearer"})
    assert resp.status == 401
    resp = await client.post(exchange, json={"code": made["code"], "kind": "bearer"})
    assert resp.status == 200, await resp.text()
    opened = await resp.json()
    assert opened["user"]["id"] == own and opened["group_session_id"] == session.id
    assert opened["group_id"] == cohort_id  # the live page asks for its agreement with it
    limited = {"Authorization": f"Bearer {opened['token']}"}
    # Spent: once only.
    assert (await client.post(exchange, json={"code": made["code"], "kind": "bearer"})).status == 401

    # HTTP: this session and its cohort's agreement, nothing else of the client's.
    assert (await client.get("/api/me", headers=limited)).status == 200
    assert (await client.get(f"/api/group-sessions/{session.id}/ics", headers=limited)).status == 200
    agreement = await client.get(f"/api/groups/{cohort_id}/agreement", headers=limited)
    assert agreement.status == 200
    version = (await agreement.json())["version"]
    resp = await client.post(f"/api/groups/{cohort_id}/agreement/acceptance", headers=limited,
                             json={"version": version})
    assert resp.status == 204, await resp.text()
    for path in (f"/api/group-sessions/{elsewhere.id}/ics", "/api/my/appointments", "/api/my/group-sessions",
                 "/api/conversations", f"/api/groups/{cohort_id}/sessions"):
        resp = await client.get(path, headers=limited)
        assert resp.status == 403 and (await resp.json())["error"]["rule_id"] == "scope", path
    assert (await client.get(f"/api/groups/{other_cohort}/agreement", headers=limited)).status == 404

    # /ws: pings and this session's frames; another session's are refused.
    ws = await client.ws_connect("/ws", headers=limited)
    await ws.send_json({"type": "hello"})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    await ws.send_json({"type": "group.join", "session": elsewhere.id, "sdp": "v=0\r\n", "id": "j-other"})
    refused = await ws.receive_json(timeout=5)
    assert (refused["type"], refused["code"], refused["ref"]) == ("error", "forbidden", "j-other")
    # Before joining, the safe-space check for this session, through its own routes: the
    # link's session reaches them for its session only.
    resp = await client.get(f"/api/group-sessions/{elsewhere.id}/safe-space", headers=limited)
    assert resp.status == 403 and (await resp.json())["error"]["rule_id"] == "scope"
    await ws.send_json({"type": "group.join", "session": session.id, "sdp": "v=0\r\n", "id": "j-unsafe"})
    refused = await ws.receive_json(timeout=5)
    assert (refused["type"], refused["code"], refused["ref"]) == ("error", "policy_refused", "j-unsafe"), refused
    assert await pass_group_safe_space(client, limited, session.id)
    await ws.send_json({"type": "group.join", "session": session.id, "sdp": "v=0\r\n", "id": "j"})
    while (frame := await ws.receive_json(timeout=5))["type"] != "group.joined":
        assert frame["type"] != "error", frame
    assert (frame["state"], frame["role"]) == ("waiting", "participant")
    await ws.close()

    # A link made after the join window closed is refused; the audit names the case.
    services.clock.advance(timedelta(hours=2))
    resp = await client.post(url, headers=await login(client, "facilitator"))  # staff sessions idle out
    assert resp.status == 409 and (await resp.json())["error"]["reason"] == "group_session.closed"
    async with services.store.read("t") as conn:
        rows = (await conn.execute(select(audit_log.c.action, audit_log.c.case_id).where(
            audit_log.c.action.in_(("group_session.link", "group_session.code_used"))))).all()
    assert sorted((r.action, r.case_id) for r in rows) == [("group_session.code_used", None),
                                                           ("group_session.link", w.cases["own"])]
