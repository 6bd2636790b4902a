"""Administration: staff accounts, offices, policies. Admins see no case data, and administer
their own office only (identity/service.py)."""

from __future__ import annotations

from typing import Any

import msgspec

from server.identity.model import Role
from server.policy.loader import RULE_IDS
from server.policy.schema import choices
from server.web import schemas as s
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

ADMIN = frozenset({Role.ADMIN})
MANAGE_USERS = Permission("manage users", roles=ADMIN)
MANAGE_OFFICES = Permission("manage offices", roles=ADMIN)
READ_POLICIES = Permission("read policies", roles=frozenset({Role.ADMIN, Role.SENIOR_OFFICER}))
CHANGE_POLICIES = Permission("change policies", roles=ADMIN)


def user_row(row: Any) -> s.UserRow:
    return s.UserRow(id=row.id, username=row.username, display_name=row.display_name, role=row.role,
                     office_id=row.office_id, disabled=bool(row.disabled))


def register(api: Registry) -> None:
    @api.route("GET", "/api/admin/users", permission=MANAGE_USERS, summary="List the users of your office",
               query=s.Paging, response=s.Users, tag="admin")
    async def list_users(call: Call[None]) -> s.Users:
        rows = await call.request.app[SERVICES].identity.list_users(call.actor, limit=call.query.limit,
                                                                    offset=call.query.offset)
        return s.Users(users=[user_row(r) for r in rows])

    @api.route("POST", "/api/admin/users", permission=MANAGE_USERS, summary="Create an account in your office",
               body=s.CreateStaff, response=s.Created, status=201, tag="admin",
               example={"username": "newofficer", "display_name": "New Officer", "role": "officer",
                        "password": "a-long-password"})
    async def create_user(call: Call[s.CreateStaff]) -> s.Created:
        b = call.body
        office_id = call.actor.office_id if b.office_id is msgspec.UNSET else b.office_id
        user_id = await call.request.app[SERVICES].identity.create_user(
            call.actor, username=b.username, display_name=b.display_name, role=Role(b.role), office_id=office_id,
            password=b.password, locale=b.locale)
        return s.Created(id=user_id)

    @api.route("POST", "/api/admin/users/{user_id}/disabled", permission=MANAGE_USERS,
               summary="Disable or re-enable an account (ends its sessions)", body=s.SetDisabled, tag="admin",
               example={"disabled": True})
    async def set_disabled(call: Call[s.SetDisabled]) -> None:
        await call.request.app[SERVICES].identity.set_disabled(call.actor, call.param("user_id"), call.body.disabled)

    @api.route("GET", "/api/admin/offices", permission=MANAGE_OFFICES,
               summary="List your office (every office: a cross-office admin)", response=s.Offices, tag="admin")
    async def offices(call: Call[None]) -> s.Offices:
        rows = await call.request.app[SERVICES].identity.list_offices(call.actor)
        return s.Offices(offices=[s.Office(id=r.id, name=r.name) for r in rows])

    @api.route("POST", "/api/admin/offices", permission=MANAGE_OFFICES, summary="Create an office (cross-office admin)",
               body=s.CreateOffice, response=s.Created, status=201, tag="admin", example={"name": "Tartu"})
    async def create_office(call: Call[s.CreateOffice]) -> s.Created:
        office_id = await call.request.app[SERVICES].identity.create_office(call.actor, call.body.name)
        return s.Created(id=office_id)

    @api.route("GET", "/api/policies", permission=READ_POLICIES, summary="The active policies", response=s.Policies,
               tag="policy")
    async def policies(call: Call[None]) -> s.Policies:
        service = call.request.app[SERVICES].policy
        meta, active = service.meta, service.engine.policies
        rules = []
        for rule_id in RULE_IDS:
            config = active.config(rule_id)
            rules.append(s.PolicyRule(rule_id=rule_id, title=str(getattr(config, "title", rule_id)),
                                      config=msgspec.to_builtins(config), choices=choices(rule_id)))
        return s.Policies(version=meta.version, author=meta.author, reason=meta.reason, created_at=meta.created_at,
                          rules=rules)

    @api.route("GET", "/api/policies/versions", permission=READ_POLICIES, summary="Policy version history",
               response=s.PolicyHistory, tag="policy")
    async def versions(call: Call[None]) -> s.PolicyHistory:
        rows = await call.request.app[SERVICES].policy.history()
        return s.PolicyHistory(versions=[s.PolicyVersion(version=m.version, author=m.author, reason=m.reason,
                                                         created_at=m.created_at) for m in rows])

    @api.route("PUT", "/api/policies/{rule_id}", permission=CHANGE_POLICIES,
               summary="Change one rule's configuration (stored as a new version)", body=s.ChangePolicy,
               response=s.PolicyVersion, tag="policy",
               example={"config": {}, "reason": "matrix test"})
    async def change(call: Call[s.ChangePolicy]) -> s.PolicyVersion:
        service = call.request.app[SERVICES].policy
        await service.change_rule(call.actor, call.param("rule_id"), call.body.config, call.body.reason)
        m = service.meta
        return s.PolicyVersion(version=m.version, author=m.author, reason=m.reason, created_at=m.created_at)
