"""Attendance: evidence from the live session, the register, its confirmation to each
participant's case, the CSV export, and absences for the officers' follow-up.

Design note. Evidence and confirmed lines are the participant's case data
(``group_attendance``, policies/retention.toml): each row is sealed under the case's bucket
key, so retention shreds (or anonymises) it with the bucket, and every read names the cases
it touched in the audit log. The register lives in the database from the first join, so it
is never lost because nobody downloaded it; confirming it is one transaction that saves every
line, marks the session confirmed and writes one audit row per case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.cases.service import CaseService
from server.checkins.outcomes import Sample
from server.clock import Clock
from server.crypto.keyring import Keyring, KeyShredded
from server.errors import BadRequest, Conflict, NotFound, PolicyRefused
from server.groups import register as reg
from server.groups import session_store as store
from server.groups.register import Attendance, Line, Mark
from server.groups.sessions import GroupSessionService
from server.identity.model import Actor
from server.identity.scope import followup_scope
from server.ids import new_id
from server.store.tx import Store

CATEGORY = "group_attendance"


def aad(table: str, row_id: str, session_id: str) -> bytes:
    return f"{table}|{row_id}|{session_id}".encode()


@dataclass(frozen=True)
class RegisterLine:
    user_id: str
    case_id: str
    display_name: str
    line: Line
    status: str | None  # confirmed status, None until confirmed
    note: str | None


@dataclass(frozen=True)
class Register:
    session_id: str
    starts_at: datetime
    ends_at: datetime
    confirmed_at: datetime | None
    lines: list[RegisterLine]


@dataclass(frozen=True)
class Decision:
    user_id: str
    status: Attendance
    note: str | None = None


class AttendanceService:
    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, cases: CaseService,
                 sessions: GroupSessionService) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.cases = cases
        self.sessions = sessions

    # -- evidence -----------------------------------------------------------------------

    async def _add(self, conn: AsyncConnection, session_id: str, case_id: str, at: datetime,
                   body: dict[str, object]) -> None:
        row_id = new_id()
        key_id, blob = await self.keyring.encrypt(conn, case_id=case_id, category=CATEGORY, at=at,
                                                  plaintext=msgspec.json.encode(body),
                                                  aad=aad("group_attendance_events", row_id, session_id))
        await store.insert_event(conn, id=row_id, session_id=session_id, case_id=case_id, at=at, key_id=key_id,
                                 body=blob)

    async def record(self, session_id: str, user_id: str, kind: str, *, detail: str | None = None,
                     sample: Sample | None = None) -> bool:
        """Keep one piece of evidence from the live session (its shell calls this). Only the cohort's
        participants have a register line; anyone else is ignored (False)."""
        if kind not in reg.EVIDENCE_KINDS or (kind == "absent") != (detail in reg.ABSENT_REASONS):
            raise BadRequest(f"Unknown attendance evidence {kind!r}")
        at = self.clock.now()
        async with self.store.write("group_attendance.evidence") as conn:
            row = await store.session(conn, session_id)
            if row is None:
                raise NotFound("No such session")
            member = next((p for p in await store.participants(conn, row.cohort_id) if p.user_id == user_id), None)
            if member is None:
                return False
            body: dict[str, object] = {"kind": kind, "user_id": user_id, "detail": detail}
            if sample is not None:
                body["sample"] = msgspec.to_builtins(sample)
            await self._add(conn, session_id, member.case_id, at, body)
        return True

    async def mark_in_room(self, by: Actor, session_id: str, user_id: str, present: bool) -> None:
        """The facilitator marks who is present in the room, from their own screen."""
        at = self.clock.now()
        async with self.store.write("group_attendance.in_room") as conn:
            row, cohort = await self.sessions.session_of(conn, by, session_id)
            await self._require_runner(conn, by, row, cohort)
            member = next((p for p in await store.participants(conn, row.cohort_id) if p.user_id == user_id), None)
            if member is None:
                raise NotFound("No such participant")
            await self._add(conn, session_id, member.case_id, at,
                            {"kind": "in_room" if present else "not_in_room", "user_id": user_id, "detail": None})
            await audit.append(conn, at=at, actor_id=by.user_id, action="group_attendance.in_room",
                               target_type="group_session", target_id=session_id, case_id=member.case_id,
                               details={"present": present})

    # -- the register ----------------------------------------------------------------------

    async def _require_runner(self, conn: AsyncConnection, by: Actor, row: Any, cohort: Any) -> None:
        if not await self.sessions.runs(conn, by, row, cohort):  # other offices were answered 404 already
            raise PolicyRefused("Only those who run the session keep its register (rule scope)", rule_id="scope",
                                 reason="scope.group_managers")

    async def _open(self, conn: AsyncConnection, table: str, row: Any) -> dict[str, Any] | None:
        try:
            plain = await self.keyring.decrypt(conn, key_id=row.key_id, blob=row.body,
                                               aad=aad(table, row.id, row.session_id))
        except KeyShredded:
            return None
        body: dict[str, Any] = msgspec.json.decode(plain)
        return body

    async def _build(self, conn: AsyncConnection, row: Any) -> Register:
        marks: dict[str, list[Mark]] = {}
        for ev in await store.events(conn, row.id):
            body = await self._open(conn, "group_attendance_events", ev)
            if body is None:
                continue
            sample = msgspec.convert(body["sample"], Sample) if body.get("sample") else None
            marks.setdefault(str(body["user_id"]), []).append(Mark(ev.at, str(body["kind"]), body.get("detail"),
                                                                   sample))
        confirmed = {c.user_id: c for c in await store.lines(conn, row.id)}
        until = min(self.clock.now(), row.ends_at)
        out: list[RegisterLine] = []
        for p in await store.participants(conn, row.cohort_id):
            line = reg.build_line(p.user_id, marks.get(p.user_id, []), starts_at=row.starts_at,
                                  ends_at=row.ends_at, until=until)
            saved = confirmed.get(p.user_id)
            note = None
            if saved is not None and saved.body is not None:
                body = await self._open(conn, "group_attendance", saved)
                note = None if body is None else body.get("note")
            out.append(RegisterLine(p.user_id, p.case_id, p.display_name, line,
                                    None if saved is None else saved.status, note))
        return Register(row.id, row.starts_at, row.ends_at, row.register_confirmed_at, out)

    async def _audit_reads(self, conn: AsyncConnection, actor: Actor, register: Register, via: str) -> None:
        for line in register.lines:
            await audit.append(conn, at=self.clock.now(), actor_id=actor.user_id, action="group_attendance.read",
                               target_type="group_session", target_id=register.session_id, case_id=line.case_id,
                               details={"via": via})

    async def register(self, actor: Actor, session_id: str, *, via: str = "register") -> Register:
        """The register as it stands: evidence so far, a suggestion per line, and what was confirmed."""
        async with self.store.write("group_attendance.register") as conn:
            row, cohort = await self.sessions.session_of(conn, actor, session_id)
            await self._require_runner(conn, actor, row, cohort)
            built = await self._build(conn, row)
            await self._audit_reads(conn, actor, built, via)
        return built

    async def confirm(self, by: Actor, session_id: str, decisions: list[Decision]) -> Register:
        """Confirm every participant's line; each is saved to their case. Once per session."""
        now = self.clock.now()
        async with self.store.write("group_attendance.confirm") as conn:
            row, cohort = await self.sessions.session_of(conn, by, session_id)
            await self._require_runner(conn, by, row, cohort)
            if row.status != "scheduled":
                raise Conflict("The session is cancelled")
            if row.register_confirmed_at is not None:
                raise Conflict("The register of this session is already confirmed")
            if now < row.starts_at:
                raise Conflict("A register is confirmed once its session has started")
            built = await self._build(conn, row)
            given = {d.user_id: d for d in decisions}
            expected = {line.user_id for line in built.lines}
            if len(given) != len(decisions) or set(given) != expected:
                raise BadRequest("Confirm every participant of the register once, and nobody else")
            for line in built.lines:
                decision = given[line.user_id]
                line_id = new_id()
                body = {"minutes_present": line.line.minutes_present, "drops": line.line.drops,
                        "late": line.line.late, "in_room": line.line.in_room, "poor_quality": line.line.quality.poor,
                        "first_arrived_at": line.line.first_arrived_at, "last_left_at": line.line.last_left_at,
                        "suggested": line.line.suggestion.value, "note": decision.note}
                key_id, blob = await self.keyring.encrypt(conn, case_id=line.case_id, category=CATEGORY, at=now,
                                                          plaintext=msgspec.json.encode(body),
                                                          aad=aad("group_attendance", line_id, row.id))
                await store.insert_line(conn, id=line_id, session_id=row.id, user_id=line.user_id,
                                        case_id=line.case_id, status=decision.status.value, key_id=key_id, body=blob,
                                        confirmed_by=by.user_id, confirmed_at=now)
                await audit.append(conn, at=now, actor_id=by.user_id, action="group_attendance.confirm",
                                   target_type="group_session", target_id=row.id, case_id=line.case_id,
                                   details={"status": decision.status.value,
                                            "suggested": line.line.suggestion.value})
            await store.update_session(conn, row.id, register_confirmed_at=now, register_confirmed_by=by.user_id)
            confirmed = await self._build(conn, await store.session(conn, row.id))
        return confirmed

    async def csv(self, actor: Actor, session_id: str) -> str:
        """The confirmed register as CSV, for those who run the session. Audited per case."""
        register = await self.register(actor, session_id, via="csv")
        if register.confirmed_at is None:
            raise Conflict("The register is exported once it is confirmed")
        return reg.csv_of(register.starts_at, [(line.display_name, line.status or "", line.line, line.note)
                                               for line in register.lines])

    # -- what the supervising officer sees ----------------------------------------------------

    async def of_case(self, actor: Actor, case_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """A case's confirmed attendance lines, newest first (the supervising officer's view)."""
        async with self.store.write("group_attendance.case") as conn:
            view = await self.cases.view(conn, case_id)
            self.cases.require(actor, "read_case", view)
            out: list[dict[str, Any]] = []
            for row in await store.lines_of_case(conn, case_id, limit):
                body = await self._open(conn, "group_attendance", row) if row.body is not None else None
                out.append({"session_id": row.session_id, "group": row.name, "programme": row.programme,
                            "starts_at": row.starts_at, "status": row.status, "details": body})
            await audit.append(conn, at=self.clock.now(), actor_id=actor.user_id, action="group_attendance.read",
                               target_type="case", target_id=case_id, case_id=case_id,
                               details={"via": "case", "count": len(out)})
        return out

    async def absences(self, actor: Actor, *, limit: int = 200) -> list[Any]:
        """Confirmed absences for follow-up: officers their caseload's, seniors their office's."""
        whose = followup_scope(actor)
        if whose is None:
            raise PolicyRefused("Only officers follow up absences (rule scope)", rule_id="scope",
                                reason="scope.officers_only")
        officer_id, office_id = whose
        async with self.store.write("group_attendance.absences") as conn:
            rows = await store.absences(conn, officer_id=officer_id, office_id=office_id, limit=limit)
            for case_id in sorted({r.case_id for r in rows}):
                await audit.append(conn, at=self.clock.now(), actor_id=actor.user_id,
                                   action="group_attendance.read", target_type="case", target_id=case_id,
                                   case_id=case_id, details={"via": "followups"})
        return rows
