"""The office boundary (issue 12, finding 1), on SQLite and PostgreSQL.

An admin of office B administers office B only: the four escalations of finding 1
(listing every office's users, creating staff in office A, creating an admin with no
office, disabling office A's admin) and opening a case in office A are refused. An
office-less admin the deployment has not named crosses nothing either. The one admin
who crosses, ``root``, is named in ``TANDEM_CROSS_OFFICE_ADMINS``, and each of its
actions is audited as such.

World: ``tests.helpers.world`` plus ``admin_b`` (office B), ``nobody`` (an admin with no
office, not named) and ``root`` (an admin with no office, named), all made by the
system as the CLI makes them.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.identity.model import Role
from server.store.schema import audit_log
from server.web.state import Services
from tests.helpers.http import error_of, row_counts
from tests.helpers.world import PASSWORD, World, build, login

NEW_STAFF = {"display_name": "New Account", "password": "a-long-password"}


async def _world(app_factory: Any) -> tuple[TestClient[Any, Any], Services, World]:
    client, services = await app_factory(cross_office_admins=frozenset({"root"}))
    w = await build(services)
    for username, office in (("admin_b", w.offices["B"]), ("nobody", None), ("root", None)):
        w.users[username] = await services.identity.create_user(
            None, username=username, display_name=username.title(), role=Role.ADMIN, office_id=office,
            password=PASSWORD)
    return client, services, w


async def _refused(resp: Any) -> None:
    err = await error_of(resp, 403, "policy_refused")
    assert err["rule_id"] == "scope", err


async def _no_such_officer(resp: Any) -> None:
    """An officer of an office the caller may not act in: the answer to an unknown id (issue 12, finding 3)."""
    err = await error_of(resp, 404, "not_found")
    assert err == {"code": "not_found", "message": "No such officer"}, err


async def _audit(services: Services, action: str) -> list[tuple[str | None, dict[str, Any]]]:
    async with services.store.read("test.audit") as conn:
        rows = (await conn.execute(select(audit_log.c.actor_id, audit_log.c.details)
                                   .where(audit_log.c.action == action).order_by(audit_log.c.seq))).all()
    return [(r.actor_id, json.loads(r.details)) for r in rows]


#: Office B's accounts: its staff, and the client of its case.
OFFICE_B = {"officer3", "senior_b", "admin_b", "client_other"}


async def test_an_admin_lists_only_the_users_of_their_office(app_factory: Any) -> None:
    client, _, w = await _world(app_factory)
    resp = await client.get("/api/admin/users", headers=await login(client, "admin_b"))
    assert resp.status == 200
    assert {u["username"] for u in (await resp.json())["users"]} == OFFICE_B
    offices = (await (await client.get("/api/admin/offices", headers=await login(client, "admin_b"))).json())
    assert [o["id"] for o in offices["offices"]] == [w.offices["B"]]


async def test_an_admin_cannot_create_staff_in_another_office(app_factory: Any) -> None:
    client, services, w = await _world(app_factory)
    admin_b = await login(client, "admin_b")
    before = await row_counts(services)
    resp = await client.post("/api/admin/users", headers=admin_b, json={
        **NEW_STAFF, "username": "mole", "role": "senior_officer", "office_id": w.offices["A"]})
    await _refused(resp)
    assert await row_counts(services) == before
    # An office that does not exist is refused the same way: it is not the admin's office.
    resp = await client.post("/api/admin/users", headers=admin_b, json={
        **NEW_STAFF, "username": "mole", "role": "senior_officer", "office_id": "no-such-office"})
    await _refused(resp)
    # Left out, the office is the creator's own, for every role, partners included.
    for username, role in (("senior_b2", "senior_officer"), ("partner_b", "partner")):
        resp = await client.post("/api/admin/users", headers=admin_b, json={
            **NEW_STAFF, "username": username, "role": role})
        assert resp.status == 201, await resp.text()
    listed = (await (await client.get("/api/admin/users", headers=admin_b)).json())["users"]
    assert {u["username"]: u["office_id"] for u in listed if u["username"] in ("senior_b2", "partner_b")} == {
        "senior_b2": w.offices["B"], "partner_b": w.offices["B"]}


async def test_an_admin_cannot_create_an_account_with_no_office(app_factory: Any) -> None:
    client, services, _ = await _world(app_factory)
    admin_b = await login(client, "admin_b")
    before = await row_counts(services)
    for role in ("admin", "partner", "interpreter"):
        resp = await client.post("/api/admin/users", headers=admin_b, json={
            **NEW_STAFF, "username": f"loose_{role}", "role": role, "office_id": None})
        await _refused(resp)
    # Not even under the name the deployment gave its cross-office administrator.
    resp = await client.post("/api/admin/users", headers=admin_b, json={
        **NEW_STAFF, "username": "root2", "role": "admin", "office_id": None})
    await _refused(resp)
    assert await row_counts(services) == before


async def test_an_admin_with_no_office_that_the_deployment_did_not_name_acts_in_no_office(
        app_factory: Any) -> None:
    client, services, w = await _world(app_factory)
    nobody = await login(client, "nobody")
    before = await row_counts(services)
    await _refused(await client.post("/api/admin/users", headers=nobody, json={
        **NEW_STAFF, "username": "x", "role": "officer", "office_id": w.offices["A"]}))
    await _refused(await client.post("/api/admin/users", headers=nobody, json={
        **NEW_STAFF, "username": "x", "role": "admin"}))
    await _no_such_officer(await client.post("/api/cases", headers=nobody, json={
        "client_username": "x", "client_display_name": "X", "officer_id": w.users["officer"]}))
    await _refused(await client.post("/api/admin/offices", headers=nobody, json={"name": "Office C"}))
    await error_of(await client.post(f"/api/admin/users/{w.users['admin']}/disabled", headers=nobody,
                                     json={"disabled": True}), 404, "not_found")
    assert await row_counts(services) == before
    await _refused(await client.get("/api/admin/users", headers=nobody))
    await _refused(await client.get("/api/admin/offices", headers=nobody))
    await _refused(await client.get("/api/admin/data-requests", headers=nobody))
    # The export that finding 1's office-less admin made of an office-A case (403 or 404,
    # whichever the refusal of a case out of scope is).
    resp = await client.get(f"/api/cases/{w.cases['own']}/export", headers=nobody)
    assert resp.status in (403, 404), await resp.text()


async def test_an_admin_cannot_disable_another_offices_admin(app_factory: Any) -> None:
    client, services, w = await _world(app_factory)
    admin_a, admin_b = await login(client, "admin"), await login(client, "admin_b")
    before = await row_counts(services)
    resp = await client.post(f"/api/admin/users/{w.users['admin']}/disabled", headers=admin_b,
                             json={"disabled": True})
    other = await error_of(resp, 404, "not_found")
    resp = await client.post("/api/admin/users/no-such-user/disabled", headers=admin_b, json={"disabled": True})
    missing = await error_of(resp, 404, "not_found")
    assert other["message"].replace(w.users["admin"], "ID") == missing["message"].replace("no-such-user", "ID")
    # Office A's clients are office A's too.
    resp = await client.post(f"/api/admin/users/{w.clients['own']}/disabled", headers=admin_b,
                             json={"disabled": True})
    await error_of(resp, 404, "not_found")
    assert await row_counts(services) == before
    assert (await client.get("/api/me", headers=admin_a)).status == 200
    # Their own office's accounts they do administer.
    resp = await client.post(f"/api/admin/users/{w.users['officer3']}/disabled", headers=admin_b,
                             json={"disabled": True})
    assert resp.status == 204


async def test_an_admin_cannot_open_a_case_in_another_office(app_factory: Any) -> None:
    client, services, w = await _world(app_factory)
    admin_b = await login(client, "admin_b")
    before = await row_counts(services)
    resp = await client.post("/api/cases", headers=admin_b, json={
        "client_username": "planted", "client_display_name": "Planted", "officer_id": w.users["officer"]})
    await _no_such_officer(resp)
    assert await row_counts(services) == before
    resp = await client.post("/api/cases", headers=admin_b, json={
        "client_username": "placed", "client_display_name": "Placed", "officer_id": w.users["officer3"]})
    assert resp.status == 201, await resp.text()


async def test_an_office_is_opened_only_by_a_cross_office_admin(app_factory: Any) -> None:
    client, services, _ = await _world(app_factory)
    admin_b = await login(client, "admin_b")
    before = await row_counts(services)
    await _refused(await client.post("/api/admin/offices", headers=admin_b, json={"name": "Office C"}))
    assert await row_counts(services) == before
    root = await login(client, "root")
    assert (await client.post("/api/admin/offices", headers=root, json={"name": "Office C"})).status == 201
    await error_of(await client.post("/api/admin/offices", headers=root, json={"name": "Office C"}), 409, "conflict")


async def test_the_named_cross_office_admin_crosses_and_every_act_is_audited(app_factory: Any) -> None:
    client, services, w = await _world(app_factory)
    root = await login(client, "root")
    listed = (await (await client.get("/api/admin/users", headers=root)).json())["users"]
    assert {"officer", "officer3", "client", "client_other", "partner", "nobody"} <= {u["username"] for u in listed}
    offices = (await (await client.get("/api/admin/offices", headers=root)).json())["offices"]
    assert {o["id"] for o in offices} == set(w.offices.values())
    resp = await client.post("/api/admin/users", headers=root, json={
        **NEW_STAFF, "username": "senior_a2", "role": "senior_officer", "office_id": w.offices["A"]})
    assert resp.status == 201, await resp.text()
    resp = await client.post("/api/admin/users", headers=root, json={
        **NEW_STAFF, "username": "ops", "role": "admin", "office_id": None})
    assert resp.status == 201, await resp.text()
    ops = (await resp.json())["id"]
    assert (await client.post(f"/api/admin/users/{ops}/disabled", headers=root, json={"disabled": True})).status == 204
    resp = await client.post("/api/cases", headers=root, json={
        "client_username": "opened", "client_display_name": "Opened", "officer_id": w.users["officer"]})
    assert resp.status == 201, await resp.text()

    mine = [(action, details) for action in ("user.list", "user.create", "user.disable", "case.create")
            for actor, details in await _audit(services, action) if actor == w.users["root"]]
    # Two accounts, and the client of the new case.
    assert [a for a, _ in mine] == ["user.list", "user.create", "user.create", "user.create", "user.disable",
                                    "case.create"]
    assert all(details.get("cross_office") is True for _, details in mine), mine
    requests = [d for actor, d in await _audit(services, "cross_office.request") if actor == w.users["root"]]
    assert [d["path"] for d in requests] == ["/api/admin/users", "/api/admin/offices", "/api/admin/users",
                                             "/api/admin/users", f"/api/admin/users/{ops}/disabled", "/api/cases"]
    assert all(d["cross_office"] is True for d in requests)
    # Refused by a role fence, still audited.
    assert (await client.get("/api/caseload", headers=root)).status == 403
    ws = await client.ws_connect("/ws", headers=root)
    await ws.close()
    opened = [d for actor, d in await _audit(services, "cross_office.request") if actor == w.users["root"]]
    assert opened[-2:] == [{"path": "/api/caseload", "cross_office": True}, {"path": "/ws", "cross_office": True}]
    assert [d["cross_office"] for actor, d in await _audit(services, "session.create") if actor == w.users["root"]] \
        == [True]
    # Nobody else's acts are marked: the office admins' rows say nothing of crossing.
    await client.get("/api/admin/users", headers=await login(client, "admin_b"))
    assert all("cross_office" not in d for actor, d in await _audit(services, "user.list") if actor != w.users["root"])
    assert all(actor == w.users["root"] for actor, _ in await _audit(services, "cross_office.request"))
