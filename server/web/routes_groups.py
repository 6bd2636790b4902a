"""Programme groups: cohorts, their facilitators and participants. Membership of a cohort
is decided inside the service (its facilitators, the office's seniors, a referring officer);
the roles here are the outer fence."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from server.identity.model import Role
from server.web import schemas as s
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

RUNNERS = frozenset({Role.FACILITATOR, Role.SENIOR_OFFICER})
MEMBERS = frozenset({Role.FACILITATOR, Role.SENIOR_OFFICER, Role.CLIENT})

LIST_GROUPS = Permission("list their programme groups", roles=MEMBERS)
OPEN_GROUP = Permission("open a programme group", roles=RUNNERS)
READ_GROUP = Permission("read a programme group", roles=MEMBERS)
CHANGE_GROUP = Permission("change a programme group", roles=RUNNERS)
ENROL = Permission("enrol a participant in a programme group",
                   roles=frozenset({Role.FACILITATOR, Role.SENIOR_OFFICER, Role.OFFICER}))


class CreateGroup(s.Strict, kw_only=True):
    name: s.Name
    programme: s.Name


class Enrol(s.Strict, kw_only=True):
    case_id: s.Id


class AddFacilitator(s.Strict, kw_only=True):
    user_id: s.Id


class MemberNames(s.Strict, kw_only=True):
    member_names: Literal["first_name", "initials"]


class GroupSummary(Struct, kw_only=True):
    id: str
    name: str
    programme: str
    my_role: str | None


class Groups(Struct, kw_only=True):
    groups: list[GroupSummary]


class GroupMember(Struct, kw_only=True):
    id: str
    display_name: str
    role: str


class Group(Struct, kw_only=True):
    id: str
    name: str
    programme: str
    conversation_id: str
    members: list[GroupMember]
    #: Those who run the group see the office's other facilitators here, to add one.
    colleagues: list[GroupMember]
    #: How participants see one another: "first_name" (default) or "initials".
    member_names: str = "first_name"


def register(api: Registry) -> None:
    @api.route("GET", "/api/groups", permission=LIST_GROUPS, summary="The programme groups one belongs to",
               response=Groups, tag="groups")
    async def groups(call: Call[None]) -> Groups:
        rows = await call.request.app[SERVICES].groups.cohorts(call.actor)
        return Groups(groups=[GroupSummary(id=r.id, name=r.name, programme=r.programme, my_role=role)
                              for r, role in rows])

    @api.route("POST", "/api/groups", permission=OPEN_GROUP, summary="Open a programme group (cohort)",
               body=CreateGroup, response=s.Created, status=201, tag="groups",
               example={"name": "Tuesday evening", "programme": "Thinking Skills"})
    async def create(call: Call[CreateGroup]) -> s.Created:
        cohort_id = await call.request.app[SERVICES].groups.create_cohort(
            call.actor, name=call.body.name, programme=call.body.programme)
        return s.Created(id=cohort_id)

    @api.route("GET", "/api/groups/{group_id}", permission=READ_GROUP, summary="One programme group and its members",
               response=Group, tag="groups")
    async def read(call: Call[None]) -> Group:
        c = await call.request.app[SERVICES].groups.cohort(call.actor, call.param("group_id"))
        return Group(id=c.id, name=c.name, programme=c.programme, conversation_id=c.conversation_id,
                     members=[GroupMember(id=m.user_id, display_name=m.display_name, role=m.role) for m in c.members],
                     colleagues=[GroupMember(id=m.user_id, display_name=m.display_name, role=m.role)
                                 for m in c.colleagues], member_names=c.member_names)

    @api.route("PUT", "/api/groups/{group_id}/member-names", permission=CHANGE_GROUP,
               summary="How the group's participants see one another (first names or initials)",
               body=MemberNames, tag="groups", example={"member_names": "initials"})
    async def member_names(call: Call[MemberNames]) -> None:
        await call.request.app[SERVICES].groups.set_member_names(call.actor, call.param("group_id"),
                                                                 call.body.member_names)

    @api.route("POST", "/api/groups/{group_id}/participants", permission=ENROL,
               summary="Enrol a case's client in the group", body=Enrol, response=s.Created, status=201,
               tag="groups", example={"case_id": "CASE"})
    async def enrol(call: Call[Enrol]) -> s.Created:
        user_id = await call.request.app[SERVICES].groups.enrol(call.actor, call.param("group_id"), call.body.case_id)
        return s.Created(id=user_id)

    @api.route("POST", "/api/groups/{group_id}/facilitators", permission=CHANGE_GROUP,
               summary="Add a facilitator to the group", body=AddFacilitator, tag="groups",
               example={"user_id": "FACILITATOR"})
    async def add_facilitator(call: Call[AddFacilitator]) -> None:
        await call.request.app[SERVICES].groups.add_facilitator(call.actor, call.param("group_id"),
                                                                call.body.user_id)

    @api.route("DELETE", "/api/groups/{group_id}/members/{user_id}", permission=CHANGE_GROUP,
               summary="Withdraw a member from the group and its conversation", tag="groups")
    async def withdraw(call: Call[None]) -> None:
        await call.request.app[SERVICES].groups.withdraw(call.actor, call.param("group_id"), call.param("user_id"))
