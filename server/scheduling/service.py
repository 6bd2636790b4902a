"""Scheduling action functions: create (one-off or a series), edit, cancel, record outcome.

Each is one named transaction with its policy check and audit row inside. Gates (rules in
``policies/``): every write needs ``scope`` (``write_case``); a video appointment also asks
``start_video`` of the engine, so ``face_to_face_first`` refuses it until an in-person
meeting is recorded (or a senior's exception is active), and ``alternatives`` answers a
client with low digital access with the obligation to offer phone or in-person first: the
request is refused (rule ``alternatives``, naming them) unless the officer states they
were offered (``alternatives_offered``), which is audited.

An in-person appointment recorded as attended (or late) is the face-to-face meeting
itself: the meeting is recorded in the same transaction, so the video gate opens.

Seam to check-ins: every hook in ``video_scheduled_hooks`` is awaited inside the same
transaction for each video occurrence created (or turned into video), with its join
window, so a check-in opens and commits with its appointment or not at all. Hooks in
``video_changed_hooks`` (same signature) hear of a video occurrence that was moved
(its new window) or cancelled (``appointment.status`` is ``cancelled``), or that stopped
being video (``appointment.kind``), so its check-in can follow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.cases import store as cases_store
from server.cases.service import CaseService, CaseView, refuse
from server.clock import Clock
from server.crypto.keyring import Keyring
from server.errors import BadRequest, Conflict, NotFound, OutOfScope, PolicyRefused
from server.identity.model import Actor, Role
from server.identity.scope import followup_scope
from server.ids import new_id
from server.scheduling import model, store
from server.scheduling.model import Appointment, Kind, Limits, Outcome, Recurrence, Scope, Status, WindowSettings
from server.store.tx import Store

CATEGORY = "checkin_records"  # outcome notes are check-in records for retention


class VideoScheduledHook(Protocol):
    """B's ``CheckinService.open_for_appointment`` has this shape."""

    def __call__(self, conn: AsyncConnection, *, actor: Actor, appointment: Appointment, opens_at: datetime,
                 closes_at: datetime) -> Awaitable[None]: ...


@dataclass(frozen=True)
class NewAppointment:
    kind: Kind
    starts_at: datetime
    ends_at: datetime
    location: str | None = None
    recurrence: Recurrence | None = None
    alternatives_offered: bool = False


@dataclass(frozen=True)
class Change:
    scope: Scope = Scope.ONE
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    kind: Kind | None = None
    location: str | None = None
    alternatives_offered: bool = False


@dataclass(frozen=True)
class Entry:
    """An appointment as listed: with names for the screen, its window and follow-up state."""

    appointment: Appointment
    client_name: str
    officer_name: str
    opens_at: datetime
    closes_at: datetime
    follow_up: bool
    outcome_note: str | None = None
    checkin_state: str | None = None  # a video appointment's check-in: scheduled, waiting, in_call, ...


def bad(err: model.SchedulingError) -> BadRequest:
    return BadRequest(str(err), reason=err.code, params=err.params)


class SchedulingService:
    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, cases: CaseService, *,
                 windows: WindowSettings | None = None, limits: Limits | None = None,
                 reminder_offsets: tuple[int, ...] = (24 * 3600, 15 * 60)) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.cases = cases
        self.windows = windows or WindowSettings()
        self.limits = limits or Limits()
        self.reminder_offsets = reminder_offsets
        #: Awaited inside the scheduling transaction for each video occurrence (check-ins hook in here).
        self.video_scheduled_hooks: list[VideoScheduledHook] = []
        #: Awaited inside the transaction when a video occurrence moves, is cancelled or stops being video.
        self.video_changed_hooks: list[VideoScheduledHook] = []

    # -- gates ------------------------------------------------------------------------

    def gate(self, actor: Actor, view: CaseView, kind: Kind, *, alternatives_offered: bool) -> tuple[str, ...]:
        """Refuse what policy refuses; the obligations met, for the audit row."""
        self.cases.require(actor, "write_case", view)
        if kind is not Kind.VIDEO:
            return ()
        decision = self.cases.decide(actor, "start_video", view)
        refuse(decision)
        offers = [o.split(":", 1)[1] for o in decision.obligations if o.startswith("offer_alternative:")]
        if offers and not alternatives_offered:
            names = " or ".join(o.replace("_", "-") for o in offers)
            reason = (f"The client has low digital access: offer {names} instead, or confirm that you offered it "
                      "and the client chose video (rule alternatives)")
            raise PolicyRefused(reason, rule_id="alternatives", reasons=(reason,), reason="alternatives.offer_first",
                                params={"offers": ",".join(offers)})
        return tuple(o for o in decision.obligations if o.startswith("offer_alternative:"))

    async def _audit(self, conn: AsyncConnection, actor: Actor, action: str, case_id: str, target_id: str,
                     details: dict[str, object] | None = None) -> None:
        await audit.append(conn, at=self.clock.now(), actor_id=actor.user_id, action=action,
                           target_type="appointment", target_id=target_id, case_id=case_id, details=details)

    async def _opened(self, conn: AsyncConnection, actor: Actor, appt: Appointment, *, changed: bool = False) -> None:
        opens_at, closes_at = model.join_window(appt.starts_at, appt.ends_at, self.windows)
        for hook in self.video_changed_hooks if changed else self.video_scheduled_hooks:
            await hook(conn, actor=actor, appointment=appt, opens_at=opens_at, closes_at=closes_at)

    # -- writes -----------------------------------------------------------------------

    async def create(self, actor: Actor, case_id: str, new: NewAppointment) -> list[Entry]:
        now = self.clock.now()
        try:
            occurrences = model.expand(new.starts_at, new.ends_at, new.recurrence, self.limits)
            for start, end in occurrences:
                model.check_times(start, end, now, self.limits)
        except model.SchedulingError as err:
            raise bad(err) from None
        series_id = new_id() if new.recurrence is not None else None
        async with self.store.write("appointment.create") as conn:
            view = await self.cases.view(conn, case_id)
            met = self.gate(actor, view, new.kind, alternatives_offered=new.alternatives_offered)
            rows = [{"id": new_id(), "case_id": case_id, "client_id": view.row.client_id,
                     "officer_id": view.row.officer_id, "kind": new.kind.value, "status": Status.SCHEDULED.value,
                     "starts_at": start, "ends_at": end, "location": new.location, "series_id": series_id,
                     "series_index": i if series_id else None, "sequence": 0, "created_by": actor.user_id,
                     "created_at": now}
                    for i, (start, end) in enumerate(occurrences)]
            await store.insert_appointments(conn, rows)
            stored = [await store.appointment(conn, str(r["id"])) for r in rows]
            made = [model.appointment_of(r) for r in stored]
            await self._audit(conn, actor, "appointment.create", case_id, made[0].id, {
                "kind": new.kind.value, "count": len(made), "series_id": series_id,
                "first": made[0].starts_at.isoformat(), "last": made[-1].starts_at.isoformat(),
                "alternatives_offered": bool(met) and new.alternatives_offered})
            if new.kind is Kind.VIDEO:
                for appt in made:
                    await self._opened(conn, actor, appt)
        return [self.entry(r) for r in stored]

    async def _targets(self, conn: AsyncConnection, actor: Actor, appointment_id: str,
                       scope: Scope) -> tuple[Any, CaseView, list[Any]]:
        row = await store.appointment(conn, appointment_id)
        if row is None:
            raise NotFound("No such appointment")
        view = await self.cases.view(conn, row.case_id)
        self.cases.require(actor, "write_case", view, missing="No such appointment")
        if row.status != Status.SCHEDULED:
            raise Conflict("The appointment is cancelled", reason="scheduling.cancelled")
        if scope is Scope.FOLLOWING and row.series_id is not None:
            return row, view, await store.series_from(conn, row.series_id, row.starts_at)
        return row, view, [row]

    async def update(self, actor: Actor, appointment_id: str, change: Change) -> list[Entry]:
        now = self.clock.now()
        offsets = self.reminder_offsets
        async with self.store.write("appointment.update") as conn:
            row, view, targets = await self._targets(conn, actor, appointment_id, change.scope)
            if any(t.outcome is not None for t in targets):
                raise Conflict("An appointment with a recorded outcome is not moved; schedule a new one",
                               reason="scheduling.outcome_recorded")
            new_start = change.starts_at or row.starts_at
            new_end = change.ends_at or (new_start + (row.ends_at - row.starts_at))
            try:
                shift = model.require_aware("starts_at", new_start) - row.starts_at
                length = model.require_aware("ends_at", new_end) - new_start
            except model.SchedulingError as err:
                raise bad(err) from None
            kind = change.kind or Kind(row.kind)
            if change.kind is not None and change.kind.value != row.kind:
                self.gate(actor, view, kind, alternatives_offered=change.alternatives_offered)
            out: list[Entry] = []
            for t in targets:
                start = t.starts_at + shift
                end = start + (length if change.ends_at is not None else t.ends_at - t.starts_at)
                try:
                    model.check_times(start, end, now, self.limits)
                except model.SchedulingError as err:
                    raise bad(err) from None
                values: dict[str, Any] = {"starts_at": start, "ends_at": end, "kind": kind.value}
                if change.location is not None:
                    values["location"] = change.location
                await store.update_appointment(conn, t.id, **values)
                await store.forget_reminders(conn, t.id, model.still_ahead(start, offsets, now))
                moved = await store.appointment(conn, t.id)
                if kind is Kind.VIDEO and t.kind != kind.value:
                    await self._opened(conn, actor, model.appointment_of(moved))
                elif t.kind == Kind.VIDEO.value and (kind is not Kind.VIDEO or start != t.starts_at
                                                     or end != t.ends_at):
                    await self._opened(conn, actor, model.appointment_of(moved), changed=True)
                out.append(self.entry(moved))
            await self._audit(conn, actor, "appointment.update", row.case_id, row.id, {
                "scope": change.scope.value, "count": len(out), "shift_s": shift.total_seconds(), "kind": kind.value})
        return out

    async def cancel(self, actor: Actor, appointment_id: str, scope: Scope) -> list[str]:
        now = self.clock.now()
        async with self.store.write("appointment.cancel") as conn:
            row, _view, targets = await self._targets(conn, actor, appointment_id, scope)
            ids = [t.id for t in targets if t.outcome is None]
            for t_id in ids:
                await store.update_appointment(conn, t_id, status=Status.CANCELLED.value, cancelled_at=now,
                                               cancelled_by=actor.user_id)
                gone = model.appointment_of(await store.appointment(conn, t_id))
                if gone.kind is Kind.VIDEO:
                    await self._opened(conn, actor, gone, changed=True)
            await self._audit(conn, actor, "appointment.cancel", row.case_id, row.id,
                              {"scope": scope.value, "count": len(ids)})
        return ids

    async def record_outcome(self, actor: Actor, appointment_id: str, outcome: Outcome,
                             note: str | None) -> Appointment:
        async with self.store.write("appointment.outcome") as conn:
            return await self.record_outcome_in(conn, actor, appointment_id, outcome, note)

    async def record_outcome_in(self, conn: AsyncConnection, actor: Actor, appointment_id: str, outcome: Outcome,
                                note: str | None) -> Appointment:
        """``record_outcome`` inside the caller's transaction (a video check-in's outcome is its
        appointment's, recorded in the check-in's transaction)."""
        now = self.clock.now()
        row = await store.appointment(conn, appointment_id)
        if row is None:
            raise NotFound("No such appointment")
        view = await self.cases.view(conn, row.case_id)
        self.cases.require(actor, "write_case", view, missing="No such appointment")
        why_not = model.outcome_may_be_recorded(status=row.status, starts_at=row.starts_at, ends_at=row.ends_at,
                                                now=now, settings=self.windows)
        if why_not is not None:
            raise Conflict(why_not)
        key_id: str | None = None
        blob: bytes | None = None
        if note:
            key_id, blob = await self.keyring.encrypt(conn, case_id=row.case_id, category=CATEGORY, at=now,
                                                      plaintext=note.encode(), aad=model.note_aad(row.id))
        await store.update_appointment(conn, row.id, outcome=outcome.value, outcome_key_id=key_id,
                                       outcome_note=blob, outcome_by=actor.user_id, outcome_at=now)
        await self._audit(conn, actor, "appointment.outcome", row.case_id, row.id,
                          {"outcome": outcome.value, "previous": row.outcome, "note": blob is not None})
        if model.counts_as_face_to_face(row.kind, outcome.value, row.outcome):
            # The meeting counts for the supervising officer, as record_face_to_face does.
            met_at = min(row.starts_at, now)
            location = row.location or "In-person appointment"
            meeting_id = new_id()
            await cases_store.insert_face_to_face(conn, id=meeting_id, case_id=row.case_id,
                                                  officer_id=view.row.officer_id, met_at=met_at,
                                                  location=location, recorded_by=actor.user_id, created_at=now)
            await audit.append(conn, at=now, actor_id=actor.user_id, action="case.face_to_face",
                               target_type="case", target_id=row.case_id, case_id=row.case_id,
                               details={"met_at": met_at.isoformat(), "location": location,
                                        "appointment_id": row.id})
        return model.appointment_of(await store.appointment(conn, row.id))

    async def outcome_note(self, conn: AsyncConnection, row: Any) -> str | None:
        if row.outcome_note is None or row.outcome_key_id is None:
            return None
        from server.crypto.keyring import KeyShredded

        try:
            plain = await self.keyring.decrypt(conn, key_id=row.outcome_key_id, blob=row.outcome_note,
                                               aad=model.note_aad(row.id))
        except KeyShredded:
            return None
        return plain.decode()

    def window(self, starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
        return model.join_window(starts_at, ends_at, self.windows)

    def follow_up(self, row: Any) -> bool:
        return model.needs_follow_up(status=row.status, outcome=row.outcome, starts_at=row.starts_at,
                                     ends_at=row.ends_at, now=self.clock.now(), settings=self.windows)

    def client_may_read(self, actor: Actor, row: Any) -> bool:
        return actor.role is Role.CLIENT and actor.user_id == row.client_id

    @property
    def close_after(self) -> timedelta:
        return self.windows.close_after

    # -- audited reads ------------------------------------------------------------------

    def entry(self, row: Any, note: str | None = None) -> Entry:
        opens_at, closes_at = self.window(row.starts_at, row.ends_at)
        return Entry(model.appointment_of(row), row.client_name, row.officer_name, opens_at, closes_at,
                     self.follow_up(row), note)

    async def _audit_reads(self, conn: AsyncConnection, actor: Actor, rows: list[Any], via: str) -> None:
        by_case: dict[str, int] = {}
        for r in rows:
            by_case[r.case_id] = by_case.get(r.case_id, 0) + 1
        for case_id, n in by_case.items():
            await audit.append(conn, at=self.clock.now(), actor_id=actor.user_id, action="appointment.read",
                               target_type="case", target_id=case_id, case_id=case_id,
                               details={"via": via, "count": n})

    async def read(self, actor: Actor, appointment_id: str, *, via: str = "read") -> Entry:
        """One appointment: its client, or staff whose scope covers its case."""
        async with self.store.write("appointment.read") as conn:
            row = await store.appointment(conn, appointment_id)
            if row is None:
                raise NotFound("No such appointment")
            view = await self.cases.view(conn, row.case_id)
            decision = self.cases.decide(actor, "read_case", view)
            if not decision.allowed:
                # The same 404 as "no such appointment" for anyone who may not read it: ids cannot be probed.
                raise OutOfScope("No such appointment")
            note = None if actor.role is Role.CLIENT else await self.outcome_note(conn, row)
            await self._audit_reads(conn, actor, [row], via)
        return self.entry(row, note)

    async def schedule(self, actor: Actor, start: datetime, end: datetime) -> list[Entry]:
        """The actor's own appointments (as the officer holding them) in [start, end)."""
        if actor.role not in (Role.OFFICER, Role.SENIOR_OFFICER):
            raise PolicyRefused("Only officers have a schedule (rule scope)", rule_id="scope",
                                reason="scope.officers_only")
        async with self.store.write("schedule.read") as conn:
            rows = await store.in_range(conn, start=start, end=end, officer_id=actor.user_id)
            states = await store.checkin_states(conn, [r.id for r in rows if r.kind == "video"])
            await self._audit_reads(conn, actor, rows, "schedule")
        return [dataclasses.replace(self.entry(r), checkin_state=states.get(r.id)) for r in rows]

    async def upcoming(self, client: Actor, *, limit: int = 50) -> list[Entry]:
        """A client's own appointments from those still open to join, cancelled ones included
        (so a client sees that Tuesday is off)."""
        now = self.clock.now()
        async with self.store.write("appointment.upcoming") as conn:
            rows = await store.in_range(conn, start=now - self.windows.close_after, end=now + timedelta(days=400),
                                        client_id=client.user_id, limit=limit)
            await self._audit_reads(conn, client, rows, "upcoming")
        return [self.entry(r) for r in rows]

    async def followups(self, actor: Actor, *, limit: int = 200) -> list[Entry]:
        """Appointments whose window ended with no outcome: officers their own, seniors their office."""
        whose = followup_scope(actor)
        if whose is None:
            raise PolicyRefused("Only officers follow up appointments (rule scope)", rule_id="scope",
                                reason="scope.officers_only")
        officer_id, office_id = whose
        async with self.store.write("appointment.followups") as conn:
            rows = await store.unrecorded(conn, ended_before=self.clock.now() - self.windows.close_after,
                                          officer_id=officer_id, office_id=office_id, limit=limit)
            await self._audit_reads(conn, actor, rows, "followups")
        return [self.entry(r) for r in rows]

    async def feed(self, actor: Actor, *, days_back: int = 30, days_ahead: int = 400) -> list[Entry]:
        """Everything for the actor's calendar feed: a client's own, an officer's held."""
        now = self.clock.now()
        start, end = now - timedelta(days=days_back), now + timedelta(days=days_ahead)
        async with self.store.write("appointment.feed") as conn:
            if actor.role is Role.CLIENT:
                rows = await store.in_range(conn, start=start, end=end, client_id=actor.user_id, limit=1000)
            elif actor.role in (Role.OFFICER, Role.SENIOR_OFFICER):
                rows = await store.in_range(conn, start=start, end=end, officer_id=actor.user_id, limit=1000)
            else:
                raise PolicyRefused("Only clients and officers have appointments (rule scope)", rule_id="scope",
                                    reason="scope.no_appointments")
            await self._audit_reads(conn, actor, rows, "ics")
        return [self.entry(r) for r in rows]

    async def reminders(self, actor: Actor, *, days: int = 7, limit: int = 50) -> list[Any]:
        """The actor's own reminders of the last ``days`` days, newest first."""
        async with self.store.write("reminder.list") as conn:
            rows = await store.reminders_of(conn, actor.user_id, since=self.clock.now() - timedelta(days=days),
                                            limit=limit)
            if rows:
                await audit.append(conn, at=self.clock.now(), actor_id=actor.user_id, action="reminder.read",
                                   target_type="user", target_id=actor.user_id, details={"count": len(rows)})
        return rows

