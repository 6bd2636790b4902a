"""Reminders of group sessions, sent by scheduling's reminder task (``ReminderService``
runs ``GroupReminders.run_once`` in each pass) with its offsets, bus and Web Push.

Design note. As for appointments (server/scheduling/reminders.py): which reminder is due
is ``scheduling.model.plan_reminders`` (pure); a ``group_session_reminders`` row, unique per
(session, recipient, offset), is inserted before anything goes out, so a restarted node or a
racing one sends nothing twice. Recipients are the cohort's current participants and
facilitators and the session's added staff (co-facilitators, observer); a room device is
no person and gets none. The in-app ``reminder`` frame names the session and its times;
the push says only that there is a reminder and which session (``group_session_id``), never
the group's name, its programme or anyone in it: a lock screen is read by anyone.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import msgspec

from server.audit import store as audit
from server.bus.base import Bus
from server.clock import Clock
from server.errors import Unavailable
from server.groups import session_store as store
from server.ids import new_id
from server.messaging.push import PushService
from server.scheduling import model
from server.store.tx import Store

log = logging.getLogger("tandem.reminders")
KIND = "group"  # the reminder's kind, beside the appointments' in_person, video and phone


def reminder_frame(*, reminder_id: str, session: Any, offset_s: int) -> dict[str, object]:
    """The in-app ``reminder`` frame of a group session (over the user's own connection)."""
    return {"type": "reminder", "id": reminder_id, "group_session_id": session.id, "kind": KIND,
            "starts_at": session.starts_at, "ends_at": session.ends_at, "offset_s": offset_s}


def reminder_push(session_id: str) -> dict[str, str]:
    """All a group session's reminder push says: no time, no group, no names."""
    return {"type": "reminder", "group_session_id": session_id}


class GroupReminders:
    def __init__(self, store_: Store, clock: Clock, bus: Bus, push: PushService, *,
                 offsets: tuple[int, ...] = (24 * 3600, 15 * 60), batch: int = 500) -> None:
        if not offsets:
            raise ValueError("at least one reminder offset")
        self.store = store_
        self.clock = clock
        self.bus = bus
        self.push = push
        self.offsets = offsets
        self.batch = batch

    async def run_once(self) -> int:
        """Send what is due now; the number of reminders sent."""
        now = self.clock.now()
        horizon = now + timedelta(seconds=max(self.offsets))
        sent = 0
        after: tuple[datetime, str] | None = None
        while True:  # in batches, as appointments are
            async with self.store.read("group_reminder.scan") as conn:
                rows = await store.starting_between(conn, now, horizon, self.batch, after)
                done = await store.reminded(conn, [r.id for r in rows])
                people = {r.id: await store.reminded_people(conn, r.id) for r in rows}
            for row in rows:
                for person in people[row.id]:
                    plan = model.plan_reminders(row.starts_at, self.offsets, now,
                                                done.get((row.id, person.user_id), ()))
                    if plan.send is not None:
                        sent += await self._send(row.id, person.user_id, person.case_id, plan)
            if len(rows) < self.batch:
                return sent
            after = (rows[-1].starts_at, rows[-1].id)

    async def _send(self, session_id: str, user_id: str, case_id: str | None, plan: model.ReminderPlan) -> int:
        assert plan.send is not None
        reminder_id = new_id()
        now = self.clock.now()
        async with self.store.write("group_reminder.claim") as conn:
            current = await store.session(conn, session_id)
            if current is None or current.status != model.Status.SCHEDULED:
                return 0  # cancelled since the scan
            for offset in plan.skip:
                await store.claim_reminder(conn, is_sqlite=self.store.sqlite, id=new_id(), session_id=session_id,
                                           user_id=user_id, offset_s=offset, delivered=False, created_at=now)
            claimed = await store.claim_reminder(conn, is_sqlite=self.store.sqlite, id=reminder_id,
                                                 session_id=session_id, user_id=user_id, offset_s=plan.send,
                                                 delivered=True, created_at=now)
            if not claimed:
                return 0  # another node or an earlier run sent it
            await audit.append(conn, at=now, actor_id=None, action="reminder.send", target_type="group_session",
                               target_id=session_id, case_id=case_id,
                               details={"user_id": user_id, "offset_s": plan.send})
        frame = msgspec.json.encode(reminder_frame(reminder_id=reminder_id, session=current, offset_s=plan.send))
        try:
            (reached,) = await self.bus.publish_many([(f"user.{user_id}", frame)])
        except Unavailable:
            log.warning("group reminder publish failed; it stays in the in-app list")
            reached = None
        if not reached:
            self.push.notify((user_id,), reminder_push(session_id), f"reminder|{session_id}",
                             recheck_local=reached is None)
        return 1
