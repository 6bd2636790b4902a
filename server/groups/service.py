"""Programme-group action functions: open a cohort, add facilitators, enrol and withdraw
participants. Each is one named transaction with its audit row inside; the cohort's
group conversation follows its membership in the same transaction.

A participant is enrolled through their case: the case must belong to the cohort's
office, and the person enrolling must run the cohort (its facilitators, the office's
senior officers) or supervise the case (a referral). Facilitators see participants'
names, never their case data (CEP; DESIGN: scope). The cohort never grows past the
size a session may have (rule ``group_rules``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.cases import store as case_store
from server.cases.service import refuse
from server.clock import Clock
from server.errors import BadRequest, NotFound, OutOfScope, PolicyRefused
from server.groups import store
from server.groups.model import COHORT_OPENERS, CohortRef, CohortRole, manages
from server.identity import store as identity_store
from server.identity.model import Actor, Role
from server.ids import new_id
from server.messaging import store as messaging_store
from server.messaging.model import FIRST_NAME, MEMBER_NAMES, Kind, group_name
from server.policy.facts import ENROL_GROUP, ActorFacts, GroupFacts, PolicyRequest
from server.policy.service import PolicyService
from server.store.tx import Store


@dataclass(frozen=True)
class CohortMember:
    user_id: str
    display_name: str
    role: str


@dataclass(frozen=True)
class Cohort:
    id: str
    name: str
    programme: str
    office_id: str
    conversation_id: str
    members: tuple[CohortMember, ...]
    #: For those who run the group: the office's other active facilitators, who may be added.
    colleagues: tuple[CohortMember, ...] = ()
    #: How participants see one another: first_name | initials (messaging/model.py).
    member_names: str = FIRST_NAME


class GroupService:
    def __init__(self, store_: Store, clock: Clock, policy: PolicyService) -> None:
        self.store = store_
        self.clock = clock
        self.policy = policy

    async def _ref(self, conn: AsyncConnection, actor: Actor, cohort_id: str) -> tuple[Any, CohortRef, list[Any]]:
        """The cohort's row, who runs it, and its current members (named). A cohort of another
        office that the actor is no member of is outside their scope: "No such group"."""
        row = await store.cohort(conn, cohort_id)
        if row is None:
            raise NotFound("No such group")
        members = await store.members(conn, cohort_id)
        if actor.office_id != row.office_id and not any(m.user_id == actor.user_id for m in members):
            raise OutOfScope("No such group")
        facilitators = frozenset(m.user_id for m in members if m.role == CohortRole.FACILITATOR.value)
        return row, CohortRef(row.id, row.office_id, facilitators), members

    async def _audit(self, conn: AsyncConnection, by: Actor, action: str, cohort_id: str,
                     case_id: str | None = None, details: dict[str, object] | None = None) -> None:
        await audit.append(conn, at=self.clock.now(), actor_id=by.user_id, action=action, target_type="cohort",
                           target_id=cohort_id, case_id=case_id, details=details)

    # -- writes -----------------------------------------------------------------

    async def create_cohort(self, by: Actor, *, name: str, programme: str) -> str:
        if by.role not in COHORT_OPENERS or by.office_id is None:
            raise PolicyRefused("Only facilitators and senior officers of an office open programme groups "
                                "(rule scope)", rule_id="scope", reason="scope.group_openers")
        cohort_id, conversation_id, now = new_id(), new_id(), self.clock.now()
        async with self.store.write("group.create") as conn:
            await store.insert_cohort(conn, id=cohort_id, office_id=by.office_id, name=name, programme=programme,
                                      created_by=by.user_id, created_at=now, closed_at=None)
            await messaging_store.insert_conversation(conn, id=conversation_id, kind=Kind.GROUP.value, case_id=None,
                                                      cohort_id=cohort_id, created_at=now)
            if by.role is Role.FACILITATOR:
                await self._join(conn, cohort_id, conversation_id, by.user_id, CohortRole.FACILITATOR, None)
            await self._audit(conn, by, "group.create", cohort_id, details={"programme": programme})
        return cohort_id

    async def add_facilitator(self, by: Actor, cohort_id: str, user_id: str) -> None:
        async with self.store.write("group.facilitator.add") as conn:
            row, ref, _members = await self._ref(conn, by, cohort_id)
            self._require_manager(by, ref)
            user = await identity_store.user_by_id(conn, user_id)
            if user is None:
                raise NotFound("No such facilitator")
            if user.office_id != row.office_id:  # facilitators run groups of their own office
                raise OutOfScope("No such facilitator")
            if user.role != Role.FACILITATOR.value:
                raise BadRequest("A group's facilitator must be a facilitator", reason="group.facilitator_role")
            await self._join(conn, cohort_id, await self._conversation(conn, cohort_id), user_id,
                             CohortRole.FACILITATOR, None)
            await self._audit(conn, by, "group.facilitator.add", cohort_id, details={"user_id": user_id})

    async def enrol(self, by: Actor, cohort_id: str, case_id: str) -> str:
        """Enrol the client of ``case_id``; returns their user id."""
        async with self.store.write("group.enrol") as conn:
            row, ref, members = await self._ref(conn, by, cohort_id)
            case = await case_store.case_by_id(conn, case_id)
            if case is None:
                raise NotFound("No such case")
            if case.office_id != row.office_id:
                # Whoever may see this group is of its office; another office's case is not theirs to know of.
                raise OutOfScope("No such case")
            supervises = by.user_id == case.officer_id
            if not (manages(by, ref) or supervises):
                raise PolicyRefused("Only the group's facilitators, the office's senior officers or the "
                                    "supervising officer enrol a participant (rule scope)", rule_id="scope",
                                    reason="scope.group_enrolers")
            member = await store.member(conn, cohort_id, case.client_id)
            if member is None or member.left_at is not None:
                participants = sum(m.role == CohortRole.PARTICIPANT.value for m in members)
                refuse(self.policy.evaluate(PolicyRequest(
                    action=ENROL_GROUP, now=self.clock.now(),
                    actor=ActorFacts(user_id=by.user_id, role=by.role.value, office_id=by.office_id),
                    relation="facilitator" if by.role is Role.FACILITATOR else "none",
                    group=GroupFacts(participants=participants, facilitators=len(ref.facilitator_ids),
                                     hybrid=False, recording=False, confidentiality_accepted=True),
                )))
                await self._join(conn, cohort_id, await self._conversation(conn, cohort_id), case.client_id,
                                 CohortRole.PARTICIPANT, case_id)
                await self._audit(conn, by, "group.enrol", cohort_id, case_id)
        return str(case.client_id)

    async def set_member_names(self, by: Actor, cohort_id: str, member_names: str) -> None:
        """How the group's participants see one another (first names or initials), set by those
        who run it; staff always see full names."""
        if member_names not in MEMBER_NAMES:
            raise BadRequest(f"member_names is one of: {', '.join(MEMBER_NAMES)}", reason="field.invalid_choice",
                             field="member_names")
        async with self.store.write("group.member_names") as conn:
            _row, ref, _members = await self._ref(conn, by, cohort_id)
            self._require_manager(by, ref)
            await store.set_member_names(conn, cohort_id, member_names)
            await self._audit(conn, by, "group.member_names", cohort_id, details={"member_names": member_names})

    async def withdraw(self, by: Actor, cohort_id: str, user_id: str) -> None:
        """Take a member out of the group and its conversation (they keep no access to it)."""
        now = self.clock.now()
        async with self.store.write("group.withdraw") as conn:
            _row, ref, _members = await self._ref(conn, by, cohort_id)
            self._require_manager(by, ref)
            member = await store.member(conn, cohort_id, user_id)
            if member is None or member.left_at is not None:
                raise NotFound("No such member of this group")
            await store.remove_member(conn, cohort_id, user_id, now)
            await messaging_store.set_member(conn, await self._conversation(conn, cohort_id), user_id, left_at=now)
            await self._audit(conn, by, "group.withdraw", cohort_id, member.case_id, {"user_id": user_id})

    # -- reads ------------------------------------------------------------------

    async def cohorts(self, actor: Actor) -> list[tuple[Any, str | None]]:
        """The groups an actor belongs to (senior officers: every group of their office), with the
        actor's role in each. Lists no participant, so it is not a read of client data."""
        async with self.store.read("group.list") as conn:
            if actor.role is Role.SENIOR_OFFICER and actor.office_id is not None:
                return [(r, None) for r in await store.cohorts_of_office(conn, actor.office_id)]
            return [(r, r.role) for r in await store.cohorts_of(conn, actor.user_id)]

    async def cohort(self, actor: Actor, cohort_id: str) -> Cohort:
        """One group with its members by name. Audited: it names clients."""
        async with self.store.write("group.read") as conn:
            row, ref, members = await self._ref(conn, actor, cohort_id)
            if not (manages(actor, ref) or any(m.user_id == actor.user_id for m in members)):
                raise NotFound("No such group")
            await self._audit(conn, actor, "group.read", cohort_id)
            colleagues: tuple[CohortMember, ...] = ()
            if manages(actor, ref):
                inside = {m.user_id for m in members}
                colleagues = tuple(CohortMember(u.id, u.display_name, u.role)
                                   for u in await store.office_facilitators(conn, row.office_id)
                                   if u.id not in inside)
            # A participant sees the others by the name the group uses, never the full name.
            naming = str(row.member_names)
            grouped = actor.role is Role.CLIENT
            seen = tuple(CohortMember(m.user_id, group_name(m.display_name, naming)
                                      if grouped and m.role == CohortRole.PARTICIPANT.value
                                      and m.user_id != actor.user_id else m.display_name, m.role)
                         for m in members)
            return Cohort(row.id, row.name, row.programme, row.office_id, await self._conversation(conn, cohort_id),
                          seen, colleagues, naming)

    # -- helpers ------------------------------------------------------------------

    @staticmethod
    def _require_manager(by: Actor, ref: CohortRef) -> None:
        if not manages(by, ref):
            raise PolicyRefused("Only the group's facilitators and the office's senior officers change it "
                                "(rule scope)", rule_id="scope", reason="scope.group_managers")

    @staticmethod
    async def _conversation(conn: AsyncConnection, cohort_id: str) -> str:
        conversation_id = await store.conversation_id(conn, cohort_id)
        assert conversation_id is not None, "every cohort is created with its conversation"
        return conversation_id

    async def _join(self, conn: AsyncConnection, cohort_id: str, conversation_id: str, user_id: str,
                    role: CohortRole, case_id: str | None) -> None:
        at = self.clock.now()
        await store.add_member(conn, cohort_id=cohort_id, user_id=user_id, role=role.value, case_id=case_id, at=at)
        await messaging_store.add_member(conn, conversation_id, user_id, at)
