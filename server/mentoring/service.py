"""Mentoring periods (issue 16): the mentor's activity log, extensions, outcomes, and the
reads of all three by the mentor, the officer and the mentee.

Every write is one action function: the ``mentoring`` rule (is the period open?) and the
``scope`` rule (``write_case`` for the officer's acts) decide, one named transaction holds
the write and its audit row. Every read names a client and is audited. Notes and reasons
are sealed under the case's ``case_notes`` bucket key (they are case records about the
client, kept as case notes are) with the row id as associated data, so a shredded month
takes them with it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.cases import store as case_store
from server.cases.service import CaseService
from server.clock import Clock
from server.crypto.keyring import Keyring, KeyShredded
from server.errors import Conflict, NotFound
from server.identity.model import Actor, Role
from server.ids import new_id
from server.mentoring import model, store
from server.mentoring.model import Activity, Outcome, Period, aad
from server.messaging import store as messaging_store
from server.policy.decision import refusal
from server.policy.facts import READ_MENTORING, RECORD_MENTORING_OUTCOME, WRITE_MENTORING
from server.store.tx import Store

CATEGORY = "case_notes"
MISSING = "No such mentoring"


class MentoringService:
    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, cases: CaseService) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.cases = cases

    @property
    def config(self) -> Any:
        return self.cases.policy.engine.policies.mentoring

    # -- deciding -----------------------------------------------------------------

    def _require(self, actor: Actor, action: str, row: Any, now: datetime) -> None:
        decision = self.cases.policy.evaluate(model.request(
            actor, action, now=now, period=model.period_open(row.ends_on, row.ended_at, now),
            outcome=model.outcome_open(row.ends_on, row.ended_at, now, self.config.outcome_days)))
        if not decision.allowed:
            raise refusal(decision)

    async def _own(self, conn: AsyncConnection, mentor: Actor, assignment_id: str) -> Any:
        """The mentor's own assignment; anyone else's answers as one that does not exist."""
        row = await store.period(conn, assignment_id)
        if row is None or row.mentor_id != mentor.user_id:
            raise NotFound(MISSING)
        return row

    async def _officers(self, conn: AsyncConnection, by: Actor, assignment_id: str) -> Any:
        """An assignment on a case ``by`` may change (its officer, the office's senior)."""
        row = await store.period(conn, assignment_id)
        if row is None:
            raise NotFound(MISSING)
        self.cases.require(by, "write_case", await self.cases.view(conn, row.case_id), missing=MISSING)
        return row

    # -- writes -------------------------------------------------------------------

    async def record_activity(self, mentor: Actor, assignment_id: str, *, kind: str, done_on: date,
                              minutes: int, note: str) -> str:
        activity_id = new_id()
        now = self.clock.now()
        async with self.store.write("mentoring.activity") as conn:
            row = await self._own(conn, mentor, assignment_id)
            self._require(mentor, WRITE_MENTORING, row, now)
            model.check_activity(kind, done_on, minutes, note, starts_on=model.starts_on_of(row), today=now.date())
            key_id, blob = await self.keyring.encrypt(conn, case_id=row.case_id, category=CATEGORY, at=now,
                                                      plaintext=note.encode(),
                                                      aad=aad("mentoring_activities", activity_id))
            await store.insert_activity(conn, id=activity_id, assignment_id=assignment_id, case_id=row.case_id,
                                        kind=kind, done_on=done_on, minutes=minutes, recorded_by=mentor.user_id,
                                        key_id=key_id, body=blob, created_at=now)
            await audit.append(conn, at=now, actor_id=mentor.user_id, action="mentoring.activity",
                               target_type="mentoring_activity", target_id=activity_id, case_id=row.case_id,
                               details={"assignment_id": assignment_id, "kind": kind, "minutes": minutes})
        return activity_id

    async def extend(self, by: Actor, assignment_id: str, *, ends_on: date, reason: str) -> date:
        """Move the period's end further (the officer, with a reason, audited). A period that has
        reached its end opens again; one an officer ended stays ended."""
        now = self.clock.now()
        async with self.store.write("mentoring.extend") as conn:
            row = await self._officers(conn, by, assignment_id)
            if row.ended_at is not None:
                raise Conflict("This mentor assignment has already ended", reason="case.mentoring_ended")
            if row.ends_on is not None and ends_on <= row.ends_on:
                raise Conflict("An extension ends after the current end", reason="mentoring.not_later")
            model.check_end(ends_on, now.date(), self.config.max_period_days)
            ends_at = model.access_ends(ends_on)
            assert ends_at is not None
            await store.set_end(conn, assignment_id, ends_on, ends_at)
            await audit.append(conn, at=now, actor_id=by.user_id, action="mentoring.extend",
                               target_type="mentor_assignment", target_id=assignment_id, case_id=row.case_id,
                               details={"from": None if row.ends_on is None else row.ends_on.isoformat(),
                                        "to": ends_on.isoformat(), "reason": reason})
        return ends_on

    async def record_outcome(self, by: Actor, assignment_id: str, *, outcome: str, reason: str) -> None:
        """The mentor's or the officer's outcome of a period, once each. The officer's ends a
        running assignment (the mentor leaves the conversation, the mentee keeps it)."""
        model.check_outcome(outcome, reason)
        now = self.clock.now()
        outcome_id = new_id()
        async with self.store.write("mentoring.outcome") as conn:
            if by.role is Role.MENTOR:
                party = model.MENTOR
                row = await self._own(conn, by, assignment_id)
                self._require(by, RECORD_MENTORING_OUTCOME, row, now)
            else:
                party = model.OFFICER
                row = await self._officers(conn, by, assignment_id)
            if await store.outcome_of(conn, assignment_id, party) is not None:
                raise Conflict("This outcome is already recorded", reason="mentoring.outcome_recorded")
            key_id, blob = await self.keyring.encrypt(conn, case_id=row.case_id, category=CATEGORY, at=now,
                                                      plaintext=reason.encode(),
                                                      aad=aad("mentoring_outcomes", outcome_id))
            await store.insert_outcome(conn, id=outcome_id, assignment_id=assignment_id, case_id=row.case_id,
                                       party=party, outcome=outcome, recorded_by=by.user_id, key_id=key_id,
                                       body=blob, created_at=now)
            if party == model.OFFICER and await case_store.end_mentor_assignment(conn, assignment_id, now):
                await messaging_store.close_mentoring(conn, assignment_id=assignment_id, mentor_id=row.mentor_id,
                                                      at=now)
            await audit.append(conn, at=now, actor_id=by.user_id, action="mentoring.outcome",
                               target_type="mentor_assignment", target_id=assignment_id, case_id=row.case_id,
                               details={"party": party, "outcome": outcome})

    # -- audited reads ------------------------------------------------------------

    async def _periods(self, conn: AsyncConnection, reader: Actor, rows: list[Any], now: datetime) -> list[Period]:
        """The periods as ``reader`` may see them: a mentor sees the log of a running period only."""
        visible = [r.id for r in rows if reader.role is not Role.MENTOR
                   or model.period_open(r.ends_on, r.ended_at, now)]
        activities: dict[str, list[Activity]] = {}
        for a in await store.activity_rows(conn, visible):
            note = await self._open(conn, a, "mentoring_activities")
            if note is not None:
                activities.setdefault(a.assignment_id, []).append(
                    Activity(a.id, a.kind, a.done_on, int(a.minutes), note, a.created_at))
        outcomes: dict[str, list[Outcome]] = {}
        for o in await store.outcome_rows(conn, [r.id for r in rows]):
            why = await self._open(conn, o, "mentoring_outcomes")
            if why is not None:
                outcomes.setdefault(o.assignment_id, []).append(
                    Outcome(o.party, o.outcome, why, o.recorded_by, o.created_at))
        today = now.date()
        return [Period(
            assignment_id=r.id, mentor_id=r.mentor_id, mentor_name=r.mentor_name, client_id=r.client_id,
            client_name=r.client_name, starts_on=model.starts_on_of(r), ends_on=r.ends_on, ended_at=r.ended_at,
            days_left=model.days_left(r.ends_on, today), running=model.period_open(r.ends_on, r.ended_at, now),
            outcome_open=model.outcome_open(r.ends_on, r.ended_at, now, self.config.outcome_days),
            activities=tuple(activities.get(r.id, ())), outcomes=tuple(outcomes.get(r.id, ())),
        ) for r in rows]

    async def _open(self, conn: AsyncConnection, row: Any, table: str) -> str | None:
        try:
            return (await self.keyring.decrypt(conn, key_id=row.key_id, blob=row.body,
                                               aad=aad(table, row.id))).decode()
        except KeyShredded:
            return None  # shredded by retention: it no longer exists

    async def _audit_read(self, conn: AsyncConnection, reader: Actor, periods: list[Period],
                          case_ids: dict[str, str], via: str) -> None:
        for p in periods:
            await audit.append(conn, at=self.clock.now(), actor_id=reader.user_id, action="mentoring.read",
                               target_type="mentor_assignment", target_id=p.assignment_id,
                               case_id=case_ids[p.assignment_id],
                               details={"via": via, "activities": len(p.activities)})

    async def of_mentor(self, mentor: Actor) -> list[Period]:
        """The mentor's periods: running ones with their log, and those ended whose outcome the
        mentor may still record (without the log: the mentor's access has ended)."""
        now = self.clock.now()
        since = now - timedelta(days=self.config.outcome_days)
        async with self.store.write("mentoring.read") as conn:
            rows = [r for r in await store.periods_of_mentor(conn, mentor.user_id, since=since)
                    if model.period_open(r.ends_on, r.ended_at, now)
                    or model.outcome_open(r.ends_on, r.ended_at, now, self.config.outcome_days)]
            periods = await self._periods(conn, mentor, rows, now)
            await self._audit_read(conn, mentor, periods, {r.id: r.case_id for r in rows}, "mentor")
        return periods

    async def of_case(self, by: Actor, case_id: str) -> list[Period]:
        """Every period of the case's client, newest first: for its officer and the office's senior."""
        now = self.clock.now()
        async with self.store.write("mentoring.read") as conn:
            view = await self.cases.view(conn, case_id)
            self.cases.require(by, "write_case", view)
            rows = await store.periods_of_client(conn, view.row.client_id)
            periods = await self._periods(conn, by, rows, now)
            await self._audit_read(conn, by, periods, {r.id: r.case_id for r in rows}, "case")
        return periods

    async def of_client(self, client: Actor) -> list[Period]:
        """The client's own mentoring: every period, its log and outcomes (their data)."""
        now = self.clock.now()
        async with self.store.write("mentoring.read") as conn:
            rows = await store.periods_of_client(conn, client.user_id)
            for r in rows:
                self._require(client, READ_MENTORING, r, now)
            periods = await self._periods(conn, client, rows, now)
            await self._audit_read(conn, client, periods, {r.id: r.case_id for r in rows}, "client")
        return periods

    async def activities(self, mentor: Actor, assignment_id: str) -> Period:
        """One period's log, for its mentor while the period runs (rule mentoring after it)."""
        now = self.clock.now()
        async with self.store.write("mentoring.read") as conn:
            row = await self._own(conn, mentor, assignment_id)
            self._require(mentor, READ_MENTORING, row, now)
            [period] = await self._periods(conn, mentor, [row], now)
            await self._audit_read(conn, mentor, [period], {row.id: row.case_id}, "mentor")
        return period

