"""Group session action functions: schedule a cohort's sessions (once or as a series),
cancel, add co-facilitators and an observer, the cohort's confidentiality agreement and
its acceptance, and who someone is when they join (the seam to the live session).

Scheduling reuses ``server/scheduling/model.py``: the same series expansion (each
occurrence its own row, wall-clock weekly recurrence in a named time zone), the same
limits and the same join window. Who may act: the cohort's facilitators and the senior
officers of its office (``groups.model.manages``); a cohort of another office is answered
as absent (404), so its ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.cases.service import CaseService
from server.clock import Clock
from server.errors import BadRequest, Conflict, NotFound, OutOfScope, PolicyRefused
from server.groups import safe_space_store
from server.groups import session_store as store
from server.groups import store as cohort_store
from server.groups.join_policy import LiveLimits, Present, decide_join, live_limits
from server.groups.model import CohortRef, CohortRole, manages
from server.groups.session_values import JoinFacts, Role
from server.identity import store as identity_store
from server.identity.model import Actor
from server.identity.model import Role as UserRole
from server.ids import new_id
from server.messaging.model import FIRST_NAME
from server.policy.service import PolicyService
from server.scheduling import model as scheduling
from server.scheduling.model import Limits, Recurrence, Scope, Status, WindowSettings
from server.store.tx import Store

STAFF_ROLES = (Role.CO_FACILITATOR, Role.OBSERVER)


@dataclass(frozen=True)
class NewSession:
    starts_at: datetime
    ends_at: datetime
    recurrence: Recurrence | None = None
    room_id: str | None = None


@dataclass(frozen=True)
class SessionEntry:
    id: str
    cohort_id: str
    cohort_name: str
    programme: str
    starts_at: datetime
    ends_at: datetime
    opens_at: datetime
    closes_at: datetime
    status: str
    series_id: str | None
    room_id: str | None
    room_name: str | None
    register_confirmed: bool
    sequence: int = 0  # iCalendar SEQUENCE


@dataclass(frozen=True)
class Agreement:
    cohort_id: str
    text: str | None
    version: int
    auto_admit: bool
    accepted: bool  # by the asking participant, of this version


@dataclass(frozen=True)
class Cohort:
    row: Any
    ref: CohortRef
    members: list[Any]

    def member(self, user_id: str) -> Any:
        return next((m for m in self.members if m.user_id == user_id), None)


class GroupSessionService:
    def __init__(self, store_: Store, clock: Clock, cases: CaseService, policy: PolicyService, *,
                 windows: WindowSettings | None = None, limits: Limits | None = None) -> None:
        self.store = store_
        self.clock = clock
        self.cases = cases
        self.policy = policy
        self.windows = windows or WindowSettings()
        self.limits = limits or Limits()

    # -- shared ---------------------------------------------------------------------------

    async def cohort(self, conn: AsyncConnection, actor: Actor, cohort_id: str,
                     missing: str = "No such group") -> Cohort:
        """The cohort, or 404 for anyone of another office who is no member of it."""
        row = await cohort_store.cohort(conn, cohort_id)
        if row is None:
            raise NotFound(missing)
        members = await cohort_store.members(conn, cohort_id)
        if actor.office_id != row.office_id and not any(m.user_id == actor.user_id for m in members):
            raise OutOfScope(missing)
        facilitators = frozenset(m.user_id for m in members if m.role == CohortRole.FACILITATOR.value)
        return Cohort(row, CohortRef(row.id, row.office_id, facilitators), members)

    async def session_of(self, conn: AsyncConnection, actor: Actor, session_id: str) -> tuple[Any, Cohort]:
        row = await store.session(conn, session_id)
        if row is None:
            raise NotFound("No such session")
        return row, await self.cohort(conn, actor, row.cohort_id, "No such session")

    @staticmethod
    async def runs(conn: AsyncConnection, actor: Actor, row: Any, cohort: Cohort) -> bool:
        """Runs this session: the cohort's managers and the session's co-facilitators."""
        if manages(actor, cohort.ref):
            return True
        return any(s.user_id == actor.user_id and s.role == Role.CO_FACILITATOR.value
                   for s in await store.staff(conn, row.id))

    @staticmethod
    def require_manager(actor: Actor, cohort: Cohort) -> None:
        if not manages(actor, cohort.ref):
            raise PolicyRefused("Only the group's facilitators and the office's senior officers run its sessions "
                                "(rule scope)", rule_id="scope", reason="scope.group_managers")

    async def _audit(self, conn: AsyncConnection, by: Actor, action: str, target_id: str,
                     details: dict[str, object] | None = None, case_id: str | None = None,
                     target_type: str = "group_session") -> None:
        await audit.append(conn, at=self.clock.now(), actor_id=by.user_id, action=action, target_type=target_type,
                           target_id=target_id, case_id=case_id, details=details)

    def entry(self, row: Any) -> SessionEntry:
        opens_at, closes_at = scheduling.join_window(row.starts_at, row.ends_at, self.windows)
        return SessionEntry(row.id, row.cohort_id, row.cohort_name, row.programme, row.starts_at, row.ends_at,
                            opens_at, closes_at, row.status, row.series_id, row.room_id, row.room_name,
                            row.register_confirmed_at is not None, int(row.sequence))

    # -- scheduling -----------------------------------------------------------------------

    async def schedule(self, by: Actor, cohort_id: str, new: NewSession) -> list[SessionEntry]:
        now = self.clock.now()
        try:
            occurrences = scheduling.expand(new.starts_at, new.ends_at, new.recurrence, self.limits)
            for start, end in occurrences:
                scheduling.check_times(start, end, now, self.limits)
        except scheduling.SchedulingError as err:
            raise BadRequest(str(err)) from None
        series_id = new_id() if new.recurrence is not None else None
        async with self.store.write("group_session.create") as conn:
            cohort = await self.cohort(conn, by, cohort_id)
            self.require_manager(by, cohort)
            if new.room_id is not None:
                room = await store.room(conn, new.room_id)
                if room is None or room.office_id != cohort.row.office_id:
                    raise NotFound("No such room")
            rows = [{"id": new_id(), "cohort_id": cohort_id, "office_id": cohort.row.office_id, "starts_at": start,
                     "ends_at": end, "series_id": series_id, "series_index": i if series_id else None,
                     "sequence": 0, "status": Status.SCHEDULED.value, "room_id": new.room_id,
                     "created_by": by.user_id, "created_at": now}
                    for i, (start, end) in enumerate(occurrences)]
            await store.insert_sessions(conn, rows)
            await self._audit(conn, by, "group_session.create", str(rows[0]["id"]), {
                "cohort_id": cohort_id, "count": len(rows), "series_id": series_id, "room_id": new.room_id,
                "first": occurrences[0][0].isoformat(), "last": occurrences[-1][0].isoformat()})
            return [self.entry(await store.session(conn, str(r["id"]))) for r in rows]

    async def cancel(self, by: Actor, session_id: str, scope: Scope = Scope.ONE) -> list[str]:
        now = self.clock.now()
        async with self.store.write("group_session.cancel") as conn:
            row, cohort = await self.session_of(conn, by, session_id)
            self.require_manager(by, cohort)
            if row.status != Status.SCHEDULED:
                raise Conflict("The session is cancelled")
            targets = await store.series_from(conn, row.series_id, row.starts_at) \
                if scope is Scope.FOLLOWING and row.series_id is not None else [row]
            ids = [t.id for t in targets if t.register_confirmed_at is None]
            for t_id in ids:
                await store.update_session(conn, t_id, status=Status.CANCELLED.value, cancelled_at=now,
                                           cancelled_by=by.user_id)
            await self._audit(conn, by, "group_session.cancel", row.id, {"scope": scope.value, "count": len(ids)})
        return ids

    async def sessions(self, actor: Actor, cohort_id: str, *, limit: int = 200) -> list[SessionEntry]:
        """A cohort's sessions from the last window on, to its members and those who run it. Names no
        participant, so it is not a read of client data."""
        async with self.store.read("group_session.list") as conn:
            cohort = await self.cohort(conn, actor, cohort_id)
            if not (manages(actor, cohort.ref) or cohort.member(actor.user_id) is not None):
                raise OutOfScope("No such group")
            rows = await store.sessions_of_cohort(conn, cohort_id, start=self.clock.now() - self.windows.close_after,
                                                  limit=limit)
        return [self.entry(r) for r in rows]

    async def upcoming(self, actor: Actor, *, days: int = 400, limit: int = 50) -> list[SessionEntry]:
        """The actor's own group sessions (as participant or facilitator) still open to join."""
        now = self.clock.now()
        async with self.store.read("group_session.upcoming") as conn:
            rows = await store.sessions_of_member(conn, actor.user_id, start=now - self.windows.close_after,
                                                  end=now + timedelta(days=days), limit=limit)
        return [self.entry(r) for r in rows]

    async def calendar(self, actor: Actor, session_id: str, *, series: bool = False) -> list[SessionEntry]:
        """A session (or every occurrence of its series, cancelled ones too) for an ``.ics``: to
        its participants and those who run or observe it. Names no participant."""
        async with self.store.read("group_session.ics") as conn:
            row, cohort = await self.session_of(conn, actor, session_id)
            on_staff = any(s.user_id == actor.user_id for s in await store.staff(conn, row.id))
            if not (manages(actor, cohort.ref) or on_staff or cohort.member(actor.user_id) is not None):
                raise OutOfScope("No such session")
            if not series or row.series_id is None:
                return [self.entry(row)]
            rows = await store.series_all(conn, row.series_id, limit=self.limits.max_occurrences)
        return [self.entry(r) for r in rows]

    async def reminders(self, actor: Actor, *, days: int = 7, limit: int = 50) -> list[Any]:
        """The actor's own group session reminders of the last ``days`` days, newest first (they name
        no participant, so this is no read of client data)."""
        async with self.store.read("group_reminder.list") as conn:
            return await store.reminders_of(conn, actor.user_id, since=self.clock.now() - timedelta(days=days),
                                            limit=limit)

    async def add_staff(self, by: Actor, session_id: str, user_id: str, role: Role) -> None:
        """A co-facilitator or an observer (a programme mentor: an experienced facilitator) for one session."""
        if role not in STAFF_ROLES:
            raise BadRequest("A session's added staff are co-facilitators or an observer")
        async with self.store.write("group_session.staff.add") as conn:
            row, cohort = await self.session_of(conn, by, session_id)
            self.require_manager(by, cohort)
            user = await identity_store.user_by_id(conn, user_id)
            if user is None or user.office_id != cohort.row.office_id:
                raise OutOfScope("No such facilitator")
            if user.role != UserRole.FACILITATOR.value or user_id in cohort.ref.facilitator_ids:
                raise BadRequest("Co-facilitators and observers are facilitators who do not run the group already")
            staff = await store.staff(conn, session_id)
            if any(s.user_id == user_id for s in staff):
                raise Conflict("Already on this session's staff", reason="group_session.already_staff")
            if role is Role.OBSERVER and any(s.role == Role.OBSERVER.value for s in staff):
                raise Conflict("A session has one observer", reason="group_session.one_observer")
            await store.add_staff(conn, session_id=session_id, user_id=user_id, role=role.value,
                                  added_by=by.user_id, added_at=self.clock.now())
            await self._audit(conn, by, "group_session.staff.add", row.id, {"user_id": user_id, "role": role.value})

    async def staff(self, actor: Actor, session_id: str) -> list[Any]:
        async with self.store.read("group_session.staff") as conn:
            row, cohort = await self.session_of(conn, actor, session_id)
            if not await self.runs(conn, actor, row, cohort):
                raise OutOfScope("No such session")
            return await store.staff(conn, session_id)

    async def staffing(self, actor: Actor, session_id: str) -> tuple[list[Any], list[Any]]:
        """The session's added staff, and the office's facilitators its managers could still add
        (none for a co-facilitator, who adds no one)."""
        async with self.store.read("group_session.staffing") as conn:
            row, cohort = await self.session_of(conn, actor, session_id)
            if not await self.runs(conn, actor, row, cohort):
                raise OutOfScope("No such session")
            staff = await store.staff(conn, session_id)
            if not manages(actor, cohort.ref):
                return staff, []
            taken = cohort.ref.facilitator_ids | {s.user_id for s in staff}
            return staff, [u for u in await cohort_store.office_facilitators(conn, cohort.row.office_id)
                           if u.id not in taken]

    # -- the confidentiality agreement ------------------------------------------------------

    async def set_agreement(self, by: Actor, cohort_id: str, *, text: str, auto_admit: bool) -> int:
        """The cohort's agreement text (a changed text is a new version, to be accepted anew)."""
        async with self.store.write("group.agreement.set") as conn:
            cohort = await self.cohort(conn, by, cohort_id)
            self.require_manager(by, cohort)
            current = await store.settings(conn, cohort_id)
            version = 0 if current is None else int(current.agreement_version)
            if current is None or current.agreement_text != text:
                version += 1
            await store.put_settings(conn, cohort_id, agreement_text=text, agreement_version=version,
                                     auto_admit=auto_admit, updated_by=by.user_id, updated_at=self.clock.now())
            await self._audit(conn, by, "group.agreement.set", cohort_id, {"version": version,
                              "auto_admit": auto_admit}, target_type="cohort")
        return version

    @staticmethod
    async def _within(conn: AsyncConnection, cohort_id: str, limited_to: str | None) -> None:
        """A session opened from a group session's link reaches that session's cohort only."""
        if limited_to is not None:
            row = await store.session(conn, limited_to)
            if row is None or row.cohort_id != cohort_id:
                raise OutOfScope("No such group")

    async def agreement(self, actor: Actor, cohort_id: str, *, limited_to: str | None = None) -> Agreement:
        async with self.store.read("group.agreement") as conn:
            await self._within(conn, cohort_id, limited_to)
            cohort = await self.cohort(conn, actor, cohort_id)
            if not (manages(actor, cohort.ref) or cohort.member(actor.user_id) is not None):
                raise OutOfScope("No such group")
            return await self._agreement(conn, cohort_id, actor.user_id)

    @staticmethod
    async def _agreement(conn: AsyncConnection, cohort_id: str, user_id: str) -> Agreement:
        current = await store.settings(conn, cohort_id)
        if current is None or not current.agreement_text:
            return Agreement(cohort_id, None, 0, bool(current and current.auto_admit), True)
        version = int(current.agreement_version)
        done = await store.accepted(conn, cohort_id, user_id, version) is not None
        return Agreement(cohort_id, current.agreement_text, version, bool(current.auto_admit), done)

    async def accept_agreement(self, actor: Actor, cohort_id: str, version: int, *,
                               limited_to: str | None = None) -> None:
        """A participant accepts the version of the agreement they were shown."""
        async with self.store.write("group.agreement.accept") as conn:
            await self._within(conn, cohort_id, limited_to)
            cohort = await self.cohort(conn, actor, cohort_id)
            member = cohort.member(actor.user_id)
            if member is None or member.role != CohortRole.PARTICIPANT.value:
                raise OutOfScope("No such group")
            current = await self._agreement(conn, cohort_id, actor.user_id)
            if current.text is None or current.version != version:
                raise Conflict("The agreement has changed; read the current version")
            if current.accepted:
                return
            await store.accept(conn, cohort_id=cohort_id, user_id=actor.user_id, version=version,
                               accepted_at=self.clock.now())
            await self._audit(conn, actor, "group.agreement.accept", cohort_id, {"version": version},
                              case_id=member.case_id, target_type="cohort")

    # -- joining: the seam to the live session ------------------------------------------------

    async def record_home_node(self, session_id: str, node_id: str) -> None:
        """The node whose SFU carries this session's media from now on (its home node), so
        signalling on any node can find it. Written when the session's media starts."""
        async with self.store.write("group_session.home_node") as conn:
            row = await store.session(conn, session_id)
            if row is None:
                raise NotFound("No such session")
            if row.home_node != node_id:
                await store.update_session(conn, session_id, home_node=node_id)

    async def member_naming(self, session_id: str) -> str:
        """How the session's participants see one another in it: the cohort's ``member_names``
        (a first name or initials, never the full name; messaging/model.py ``group_name``)."""
        async with self.store.read("group_session.member_naming") as conn:
            row = await store.session(conn, session_id)
            cohort = None if row is None else await cohort_store.cohort(conn, row.cohort_id)
        return FIRST_NAME if cohort is None else str(cohort.member_names)

    def live_limits(self) -> LiveLimits:
        """The size and last-N of a live session, as the policy in force sets them."""
        return live_limits(self.policy)

    async def part_in(self, conn: AsyncConnection, actor: Actor, session_id: str
                      ) -> tuple[Any, Cohort, Role, Any, Agreement]:
        """The session, its cohort, who ``actor`` is in it, their cohort membership (or None) and
        the cohort's agreement as it stands for them; 404 for anyone with no part in it. A client
        who is no enrolled participant is a participant without membership (the session refuses
        them, naming group_rules)."""
        row, cohort = await self.session_of(conn, actor, session_id)
        agreement = await self._agreement(conn, row.cohort_id, actor.user_id)
        member = cohort.member(actor.user_id)
        if actor.user_id in cohort.ref.facilitator_ids:
            return row, cohort, Role.FACILITATOR, member, agreement
        staff = {s.user_id: s.role for s in await store.staff(conn, session_id)}
        if actor.user_id in staff:
            return row, cohort, Role(staff[actor.user_id]), member, agreement
        if actor.role is UserRole.SENIOR_OFFICER and manages(actor, cohort.ref):
            return row, cohort, Role.CO_FACILITATOR, member, agreement
        device = await store.device_of_user(conn, actor.user_id)
        if device is not None and row.room_id is not None and device.room_id == row.room_id:
            return row, cohort, Role.ROOM_DEVICE, member, agreement
        enrolled = member is not None and member.role == CohortRole.PARTICIPANT.value
        if not enrolled and actor.role is not UserRole.CLIENT:
            raise OutOfScope("No such session")
        return row, cohort, Role.PARTICIPANT, member if enrolled else None, agreement

    async def join_context(self, actor: Actor, session_id: str, present: Present | None = None
                           ) -> tuple[Role, JoinFacts, bool]:
        """Who ``actor`` is in this session (their role and the facts the session decides on) and
        whether the cohort admits enrolled participants without the lobby. A participant's
        join is the policy engine's to decide (``join_policy``), with ``present`` the places held.
        Everyone but the room device has passed the safe-space check for this session first
        (``groups/safe_space.py``; CEP §5, enforced here as for check-ins)."""
        async with self.store.read("group_session.join") as conn:
            row, _, role, member, agreement = await self.part_in(conn, actor, session_id)
            if row.status != Status.SCHEDULED:
                raise Conflict("The session is cancelled")
            if role is Role.PARTICIPANT and member is None:  # the session refuses it, naming group_rules
                return Role.PARTICIPANT, JoinFacts(), agreement.auto_admit
            if role is not Role.ROOM_DEVICE and not await safe_space_store.passed(conn, session_id, actor.user_id):
                raise PolicyRefused("You have not passed the safe-space check for this session (rule safe_space)",
                                    rule_id="safe_space", reason="safe_space.not_passed")
            if role is not Role.PARTICIPANT:
                return role, JoinFacts(), agreement.auto_admit
            case = (await self.cases.view(conn, member.case_id)).facts if member.case_id else None
            facilitator_there = decide_join(self.policy, actor, self.clock.now(), case=case,
                                            present=present or Present(), hybrid=row.room_id is not None,
                                            agreement_accepted=agreement.accepted)
            return Role.PARTICIPANT, JoinFacts(enrolled=True, agreement_accepted=agreement.accepted,
                                               facilitator_there=facilitator_there), agreement.auto_admit
