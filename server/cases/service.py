"""Case action functions: create a case, record face-to-face meetings, exceptions,
mentors and networks, case notes, and the remote-supervision decision.

Every function checks policy, runs one named transaction with its audit row inside,
and returns plain values. Reads of a client's data are audited too (CEP; GDPR art. 30
records of access), in the same transaction as the read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.cases import store
from server.clock import Clock
from server.crypto.keyring import Keyring, KeyShredded
from server.errors import AlreadyAssigned, BadRequest, Conflict, NotFound, OutOfScope, PolicyRefused
from server.identity import store as identity_store
from server.identity.model import Actor, Role
from server.identity.scope import CaseRef, audit_mark, in_scope, relation
from server.identity.service import IdentityService
from server.ids import new_id
from server.mentoring import model as mentoring
from server.messaging import store as messaging_store
from server.policy.decision import Decision, refusal
from server.policy.facts import ActorFacts, CaseFacts, PolicyRequest
from server.policy.rules import face_to_face_first
from server.policy.service import PolicyService
from server.store.raw import Driver
from server.store.tx import Store


@dataclass(frozen=True)
class CaseView:
    row: Any
    ref: CaseRef
    facts: CaseFacts
    last_met_at: datetime | None


@dataclass(frozen=True)
class MentorAssignment:
    id: str
    mentor_id: str
    client_id: str
    created_at: datetime
    ends_on: date


@dataclass(frozen=True)
class CaseFile:
    """What the officer's case page shows beyond the case itself: names, meetings, who else
    takes part, and who the case could be handed or introduced to."""

    view: CaseView
    decision: Decision
    client_name: str
    officer_name: str
    meetings: list[Any]
    network: list[Any]
    mentors: list[Any]
    #: officers of the case's office (a senior hands the case to one), mentors of the office,
    #: partner-agency users and interpreters of the office or of none (the network's candidates,
    #: and who may be invited to interpret a check-in)
    candidates: list[Any]


@dataclass(frozen=True)
class CreatedCase:
    case_id: str
    client_id: str
    enrolment_code: str


def build_view(f: store.CaseFactsRow) -> CaseView:
    row = f.row
    ref = CaseRef(row.id, row.client_id, row.officer_id, row.office_id, f.mentor_ids, f.partner_ids)
    facts = CaseFacts(
        case_id=row.id, office_id=row.office_id, officer_id=row.officer_id, client_id=row.client_id,
        face_to_face_with_current_officer=f.met_with_officer, face_to_face_total=f.met_total,
        exception_until=f.exception_until,
        domestic_violence=row.domestic_violence, protected_person=row.protected_person,
        low_digital_access=row.low_digital_access, interpreter_needed=row.interpreter_needed,
        language=row.language, legal_hold=row.legal_hold,
    )
    return CaseView(row, ref, facts, f.last_met_at)


def refuse(decision: Decision) -> None:
    if not decision.allowed:
        raise refusal(decision)


def _check_case_opener(by: Actor, officer_id: str, officer: Any, may_act_in: Callable[[str | None], bool]) -> None:
    """May ``by`` open a case supervised by ``officer`` (a users row, or None)? An officer opens
    cases on their own caseload only; to anyone else, an officer of an office they may not act
    in does not exist (``may_act_in``: the office rule, ``act_in_office``)."""
    if by.role is Role.OFFICER and officer_id != by.user_id:
        raise PolicyRefused("Officers open cases only on their own caseload (rule scope)", rule_id="scope",
                            reason="scope.own_caseload")
    if officer is None:
        raise NotFound("No such officer")
    if not may_act_in(officer.office_id):
        raise OutOfScope("No such officer")
    if officer.role not in (Role.OFFICER.value, Role.SENIOR_OFFICER.value):
        raise BadRequest("The supervising officer must be an officer or senior officer", reason="case.officer_role")
    if officer.office_id is None:
        raise BadRequest("The supervising officer belongs to no office", reason="case.officer_no_office")


class CaseService:
    VIEW_MEMO = 4096  # views kept by policy_views; past it they are all dropped and built again

    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, policy: PolicyService,
                 identity: IdentityService) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.policy = policy
        self.identity = identity
        self._built_views: dict[tuple[Any, ...], CaseView] = {}  # policy_views: facts row -> view

    # -- loading and deciding ---------------------------------------------------

    async def view(self, conn: AsyncConnection, case_id: str) -> CaseView:
        row = await store.case_by_id(conn, case_id)
        if row is None:
            raise NotFound("No such case")
        return await self._view_of(conn, row)

    async def _view_of(self, conn: AsyncConnection, row: Any) -> CaseView:
        return (await self.views_of(conn, [row]))[row.id]

    def views_in(self, conn: Connection, case_ids: Collection[str], now: datetime) -> dict[str, CaseView]:
        """The views of many cases in one query (missing cases are absent). Synchronous: a
        step of a ``Store.write_in_thread`` transaction (group commit of sends)."""
        return {case_id: build_view(f) for case_id, f in store.case_facts(conn, case_ids, now).items()}

    def policy_views(self, db: Driver, case_ids: Collection[str], now: datetime) -> dict[str, CaseView]:
        """Views enough for ``decide`` (their ``row`` holds only the columns the rules read), at
        the driver level: a step of the group commit of sends. The facts are read every time;
        a view is built again only when they differ from the last ones seen for the case (a
        view is a pure function of them, and most batches meet the same cases again)."""
        views: dict[str, CaseView] = {}
        built = self._built_views
        for r in store.policy_fact_rows(db, case_ids, now):
            view = built.get(r)
            if view is None:
                if len(built) >= self.VIEW_MEMO:
                    built.clear()
                view = built[r] = build_view(store.policy_facts_of(r))
            views[view.ref.case_id] = view
        return views

    async def views_of(self, conn: AsyncConnection, rows: Sequence[Any]) -> dict[str, CaseView]:
        if not rows:
            return {}
        return await conn.run_sync(self.views_in, [row.id for row in rows], self.clock.now())

    def decide(self, actor: Actor, action: str, view: CaseView, *, now: datetime | None = None,
               **extra: Any) -> Decision:
        return self.policy.evaluate(PolicyRequest(
            action=action, actor=ActorFacts(user_id=actor.user_id, role=actor.role.value, office_id=actor.office_id),
            now=now or self.clock.now(), case=view.facts, relation=relation(actor, view.ref), **extra,
        ))

    def require(self, actor: Actor, action: str, view: CaseView, *, missing: str = "No such case",
                **extra: Any) -> Decision:
        """``decide``, refusing what it refuses. Outside the case's scope the refusal is
        ``OutOfScope`` with ``missing``, the route's answer for an id that does not exist."""
        decision = self.decide(actor, action, view, **extra)
        if not decision.allowed:
            self.conceal(actor, view, missing)
            refuse(decision)
        return decision

    @staticmethod
    def conceal(actor: Actor, view: CaseView, missing: str = "No such case") -> None:
        if not in_scope(actor, view.ref):
            raise OutOfScope(missing)

    async def _audit(self, conn: AsyncConnection, actor: Actor, action: str, case_id: str,
                     details: dict[str, object] | None = None, target_type: str = "case",
                     target_id: str | None = None) -> None:
        await audit.append(conn, at=self.clock.now(), actor_id=actor.user_id, action=action, target_type=target_type,
                           target_id=target_id or case_id, case_id=case_id, details=details)

    # -- writes -----------------------------------------------------------------

    async def create_case(
        self, by: Actor, *, client_username: str, client_display_name: str, officer_id: str,
        domestic_violence: bool = False, protected_person: bool = False, low_digital_access: bool = False,
        interpreter_needed: bool = False, language: str | None = None, locale: str = "en",
        password: str | None = None, is_demo: bool = False,
    ) -> CreatedCase:
        """Create a client account and their case; returns a one-time enrolment code."""
        if by.role not in (Role.SENIOR_OFFICER, Role.ADMIN, Role.OFFICER):
            raise PolicyRefused("Only officers, senior officers and admins open cases (rule scope)", rule_id="scope",
                                reason="scope.opens_no_cases")
        hashed = await self.identity.hash_new_password(password)
        case_id = new_id()
        now = self.clock.now()
        # One transaction: the client's account, the case and the enrolment code commit together or not at all.
        async with self.store.write("case.create") as conn:
            officer = await identity_store.user_by_id(conn, officer_id)
            # The case is the officer's office's: the opener must act in it (an admin in their own).
            _check_case_opener(by, officer_id, officer, lambda office: self.policy.in_office(by, office).allowed)
            client_id = await self.identity.insert_user(
                conn, by, username=client_username, display_name=client_display_name, role=Role.CLIENT,
                office_id=None, password_hash=hashed, locale=locale, is_demo=is_demo)
            await store.insert_case(
                conn, id=case_id, client_id=client_id, officer_id=officer_id, office_id=officer.office_id,
                officer_since=now, domestic_violence=domestic_violence, protected_person=protected_person,
                low_digital_access=low_digital_access, interpreter_needed=interpreter_needed, language=language,
                legal_hold=False, created_at=now)
            await self._audit(conn, by, "case.create", case_id, {"officer_id": officer_id, **audit_mark(by)})
            await messaging_store.ensure_conversation(conn, kind="case", case_id=case_id,
                                                      user_ids=[client_id, officer_id], at=now)
            code = await self.identity.issue_enrolment_code(conn, by, client_id)
        return CreatedCase(case_id, client_id, code)

    async def record_face_to_face(self, by: Actor, case_id: str, *, met_at: datetime, location: str) -> str:
        if met_at > self.clock.now() + timedelta(minutes=5):
            raise BadRequest("A face-to-face meeting cannot be recorded before it happens",
                             reason="case.meeting_in_future")
        meeting_id = new_id()
        async with self.store.write("case.face_to_face") as conn:
            view = await self.view(conn, case_id)
            self.require(by, "write_case", view)
            # The meeting counts for the officer who held it: the supervising officer.
            await store.insert_face_to_face(conn, id=meeting_id, case_id=case_id, officer_id=view.row.officer_id,
                                            met_at=met_at, location=location, recorded_by=by.user_id,
                                            created_at=self.clock.now())
            await self._audit(conn, by, "case.face_to_face", case_id, {"met_at": met_at.isoformat(),
                                                                       "location": location})
        return meeting_id

    async def grant_exception(self, by: Actor, case_id: str, *, days: int, reason: str) -> datetime:
        if not reason.strip():
            raise BadRequest("An exception needs a justification", reason="case.exception_reason")
        if days < 1:
            raise BadRequest("An exception lasts at least one day", reason="case.exception_days")
        now = self.clock.now()
        until = now + timedelta(days=days)
        async with self.store.write("case.exception") as conn:
            view = await self.view(conn, case_id)
            # Scope first: the scope rule has no entry for grant_exception, and
            # face_to_face_first (which checks the office) may be switched off by policy.
            self.require(by, "write_case", view)
            limit = face_to_face_first.max_exception(self.policy.engine.policies.config("face_to_face_first"))  # type: ignore[arg-type]
            if timedelta(days=days) > limit:
                raise PolicyRefused(f"An exception may last at most {limit.days} days (rule face_to_face_first)",
                                    rule_id="face_to_face_first", reason="face_to_face_first.exception_too_long",
                                    params={"max_days": limit.days})
            self.require(by, "grant_exception", view)
            await store.insert_exception(conn, id=new_id(), case_id=case_id, officer_id=view.row.officer_id,
                                         granted_by=by.user_id, reason=reason, starts_at=now, expires_at=until,
                                         revoked_at=None)
            await self._audit(conn, by, "case.exception", case_id, {"until": until.isoformat(), "reason": reason})
        return until

    async def assign_mentor(self, by: Actor, *, mentor_id: str, client_id: str, ends_on: date | None = None,
                            starts_on: date | None = None) -> MentorAssignment:
        """Assign a mentor to a client for a period, with a new, empty mentoring conversation of
        their own: a mentor never reads what the client wrote to an earlier mentor."""
        now = self.clock.now()
        period = self.policy.engine.policies.mentoring  # a period ends (issue 16): by default after 8 months
        starts_on = starts_on or now.date()
        ends_on = ends_on or starts_on + timedelta(days=period.default_period_days)
        mentoring.check_period(starts_on, ends_on, now.date(), period.max_period_days)
        assignment = MentorAssignment(new_id(), mentor_id, client_id, now, ends_on)
        async with self.store.write("mentor.assign") as conn:
            row = await store.case_by_client(conn, client_id)
            mentor = await identity_store.user_by_id(conn, mentor_id)
            if row is None or mentor is None or mentor.role != Role.MENTOR.value:
                raise NotFound("No such client or mentor")
            self.require(by, "write_case", await self._view_of(conn, row), missing="No such client or mentor")
            if mentor.office_id != row.office_id and not self.policy.engine.policies.scope.mentor_from_other_office:
                # Another office's mentor is out of the officer's scope: answered as an unknown id.
                raise OutOfScope("No such client or mentor")
            running = await store.running_assignment(conn, mentor_id, client_id)
            if running is not None and mentoring.period_open(running.ends_on, None, now):
                raise AlreadyAssigned("This mentor already mentors this client", reason="case.already_mentor")
            if running is not None:  # its period has ended: it ends now, and a new period starts afresh
                await store.end_mentor_assignment(conn, running.id, now)
                await messaging_store.close_mentoring(conn, assignment_id=running.id, mentor_id=mentor_id, at=now)
            await store.insert_mentor_assignment(conn, id=assignment.id, mentor_id=mentor_id, client_id=client_id,
                                                 created_at=now, ended_at=None, ends_on=ends_on, starts_on=starts_on)
            await self._audit(conn, by, "mentor.assign", row.id, {
                "mentor_id": mentor_id, "assignment_id": assignment.id,
                "ends_on": None if ends_on is None else ends_on.isoformat()})
            await messaging_store.open_mentoring(conn, case_id=row.id, assignment_id=assignment.id,
                                                 user_ids=[client_id, mentor_id], at=now,
                                                 access_ends_at=mentoring.access_ends(ends_on))
        return assignment

    async def end_mentor_assignment(self, by: Actor, assignment_id: str) -> None:
        """End a mentoring: the mentor leaves its conversation (no more reading or sending), the
        client keeps its history, and the client leaves the mentor's list of mentees."""
        now = self.clock.now()
        async with self.store.write("mentor.end") as conn:
            assignment = await store.mentor_assignment(conn, assignment_id)
            row = None if assignment is None else await store.case_by_client(conn, assignment.client_id)
            if assignment is None or row is None:
                raise NotFound("No such mentor assignment")
            self.require(by, "write_case", await self._view_of(conn, row), missing="No such mentor assignment")
            if not await store.end_mentor_assignment(conn, assignment_id, now):
                raise Conflict("This mentor assignment has already ended", reason="case.mentoring_ended")
            await messaging_store.close_mentoring(conn, assignment_id=assignment_id, mentor_id=assignment.mentor_id,
                                                  at=now)
            await self._audit(conn, by, "mentor.end", row.id, {"mentor_id": assignment.mentor_id,
                                                               "assignment_id": assignment_id})

    async def change_officer(self, by: Actor, case_id: str, officer_id: str) -> None:
        """Hand a case to another officer of its office. The new officer takes over the case's
        conversations with their history; face_to_face_first counts meetings with the new
        officer only, so remote supervision waits for a new in-person meeting (CEP)."""
        now = self.clock.now()
        async with self.store.write("case.change_officer") as conn:
            view = await self.view(conn, case_id)
            self.require(by, "write_case", view)
            if by.role is not Role.SENIOR_OFFICER:
                raise PolicyRefused("Only a senior officer reassigns a case (rule scope)", rule_id="scope",
                                    reason="scope.senior_only")
            officer = await identity_store.user_by_id(conn, officer_id)
            if officer is None:
                raise NotFound("No such officer")
            if officer.office_id != view.row.office_id:  # a case moves only within its office
                raise OutOfScope("No such officer")
            if officer.role not in (Role.OFFICER.value, Role.SENIOR_OFFICER.value):
                raise BadRequest("The new supervising officer must be an officer or senior officer",
                                 reason="case.officer_role")
            old = view.row.officer_id
            if officer_id == old:
                return
            await store.update_case(conn, case_id, officer_id=officer_id, officer_since=now)
            await messaging_store.hand_over(conn, case_id=case_id, old_user_id=old, new_user_id=officer_id, at=now)
            await self._audit(conn, by, "case.change_officer", case_id, {"from": old, "to": officer_id})

    async def add_network_member(self, by: Actor, case_id: str, partner_id: str) -> None:
        async with self.store.write("network.add") as conn:
            view = await self.view(conn, case_id)
            partner = await identity_store.user_by_id(conn, partner_id)
            if partner is None or partner.role != Role.PARTNER.value:
                raise NotFound("No such partner-agency user")
            self.require(by, "write_case", view)
            await store.insert_network_member(conn, id=new_id(), case_id=case_id, user_id=partner_id,
                                              created_at=self.clock.now())
            await self._audit(conn, by, "network.add", case_id, {"partner_id": partner_id})
            await messaging_store.ensure_conversation(conn, kind="network", case_id=case_id,
                                                      user_ids=[view.row.officer_id, partner_id], at=self.clock.now())

    async def add_note(self, by: Actor, case_id: str, text: str) -> str:
        note_id = new_id()
        now = self.clock.now()
        async with self.store.write("case.note.add") as conn:
            view = await self.view(conn, case_id)
            self.require(by, "write_case", view)
            key_id, blob = await self.keyring.encrypt(conn, case_id=case_id, category="case_notes", at=now,
                                                      plaintext=text.encode(), aad=note_id.encode())
            await store.insert_note(conn, id=note_id, case_id=case_id, author_id=by.user_id, key_id=key_id,
                                    body=blob, created_at=now)
            await self._audit(conn, by, "case.note.add", case_id, target_type="case_note", target_id=note_id)
        return note_id

    # -- audited reads ----------------------------------------------------------

    async def read(self, by: Actor, case_id: str) -> tuple[CaseView, Decision]:
        """The case as its reader may see it, with the remote-supervision decision."""
        async with self.store.write("case.read") as conn:
            view = await self.view(conn, case_id)
            self.require(by, "read_case", view)
            decision = self.decide(by, "supervise_remotely", view) if by.role is not Role.CLIENT else \
                self._remote_for_client(view)
            await self._audit(conn, by, "case.read", case_id)
        return view, decision

    def _remote_for_client(self, view: CaseView) -> Decision:
        officer = Actor(view.row.officer_id, "", "", Role.OFFICER, view.row.office_id, "en", False)
        return self.decide(officer, "supervise_remotely", view)

    async def remote_decision(self, by: Actor, case_id: str) -> Decision:
        """May this case's officer supervise the client remotely? Asked by that officer or a senior."""
        async with self.store.write("case.remote_decision") as conn:
            view = await self.view(conn, case_id)
            decision = self.decide(by, "supervise_remotely", view)
            if decision.rule_id == "scope":
                self.conceal(by, view)
                refuse(decision)
            await self._audit(conn, by, "case.remote_decision", case_id,
                              {"allowed": decision.allowed, "rule_id": decision.rule_id,
                               "policy_version": decision.policy_version})
        return decision

    async def my_case(self, client: Actor) -> tuple[CaseView, Decision, str, Decision]:
        """The client's case, whether it may be supervised remotely, the officer's name, and
        whether the client may write to the officer now (a text message)."""
        async with self.store.write("case.read_own") as conn:
            row = await store.case_by_client(conn, client.user_id)
            if row is None:
                raise NotFound("You have no case on record")
            view = await self._view_of(conn, row)
            officer = await identity_store.user_by_id(conn, row.officer_id)
            await self._audit(conn, client, "case.read", row.id)
        return (view, self._remote_for_client(view), str(officer.display_name),
                self.decide(client, "send_message", view, message_kind="text"))

    async def caseload(self, by: Actor) -> list[tuple[CaseView, Decision, str, str]]:
        """Officer: own caseload; senior officer: their office. Each listed case is an audited read."""
        if by.role is Role.OFFICER:
            officer_id, office_id = by.user_id, None
        elif by.role is Role.SENIOR_OFFICER:
            officer_id, office_id = by.user_id, by.office_id
        else:
            raise PolicyRefused("Only officers have a caseload (rule scope)", rule_id="scope",
                                reason="scope.officers_only")
        out: list[tuple[CaseView, Decision, str, str]] = []
        async with self.store.write("caseload.read") as conn:
            for row in await store.caseload_rows(conn, officer_id=officer_id, office_id=office_id):
                view = await self._view_of(conn, row)
                if not self.decide(by, "read_case", view).allowed:
                    continue
                out.append((view, self.decide(by, "supervise_remotely", view), row.client_name, row.officer_name))
                await self._audit(conn, by, "case.read", row.id, {"via": "caseload"})
        return out

    async def notes(self, by: Actor, case_id: str, *, limit: int = 50) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        async with self.store.write("case.note.read") as conn:
            view = await self.view(conn, case_id)
            self.require(by, "read_case", view)
            if by.role is Role.CLIENT:
                raise PolicyRefused("Case notes are for staff (rule scope)", rule_id="scope", reason="scope.staff_only")
            for row in await store.note_rows(conn, case_id, limit=limit):
                try:
                    text = (await self.keyring.decrypt(conn, key_id=row.key_id, blob=row.body,
                                                       aad=row.id.encode())).decode()
                except KeyShredded:
                    continue  # shredded by retention: it no longer exists
                out.append({"id": row.id, "author_id": row.author_id, "created_at": row.created_at, "text": text})
            await self._audit(conn, by, "case.note.read", case_id, {"count": len(out)})
        return out

    async def mentees(self, mentor: Actor) -> list[tuple[str, str]]:
        """A mentor's mentees whose period runs, names only (no case data). Audited: it names clients."""
        async with self.store.write("mentees.list") as conn:
            rows = await store.mentee_rows(conn, mentor.user_id, self.clock.now().date())
            await audit.append(conn, at=self.clock.now(), actor_id=mentor.user_id, action="mentees.read",
                               target_type="user", details={"clients": [r.id for r in rows]})
        return [(r.id, r.display_name) for r in rows]

    async def case_file(self, by: Actor, case_id: str, *, meetings: int = 50) -> CaseFile:
        """The case page: for those who may change the case (its officer, the office's senior).
        An audited read of the case, as ``read`` is."""
        async with self.store.write("case.file.read") as conn:
            view = await self.view(conn, case_id)
            self.require(by, "write_case", view)
            row = view.row
            client = await identity_store.user_by_id(conn, row.client_id)
            officer = await identity_store.user_by_id(conn, row.officer_id)
            staff = [Role.OFFICER.value, Role.SENIOR_OFFICER.value, Role.MENTOR.value]
            candidates = [c for c in await store.staff_rows(conn, office_id=row.office_id, roles=staff)
                          if c.id != row.officer_id]
            candidates += await store.staff_rows(conn, office_id=row.office_id, office_less=True,
                                                 roles=[Role.PARTNER.value, Role.INTERPRETER.value])
            found = CaseFile(
                view=view, decision=self.decide(by, "supervise_remotely", view),
                client_name=str(client.display_name), officer_name=str(officer.display_name),
                meetings=await store.face_to_face_rows(conn, case_id, limit=meetings),
                network=await store.network_rows(conn, case_id),
                mentors=await store.active_mentor_rows(conn, row.client_id),
                candidates=candidates,
            )
            await self._audit(conn, by, "case.read", case_id, {"via": "case_file"})
        return found
