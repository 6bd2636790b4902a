"""Reminders of network meetings (issue 16, TUKO stage 2), sent by scheduling's reminder task
(``ReminderService`` runs ``NetworkReminders.run_once`` in each pass) with its offsets and Web Push.

Design note. As for appointments and group sessions: which reminder is due is
``scheduling.model.plan_reminders`` (pure); a ``network_meeting_reminders`` row, unique per
(meeting, recipient, offset), is inserted before anything goes out, so a restarted node or a
racing one sends nothing twice. Recipients are asked of the network's document when the
reminder is due (``NetworkService.meeting_recipients``): the case's officer and the members
whose access lasts, the client only when the victim-protection rule lets them in, nobody once
the process has closed. The push says only that there is a reminder and of which meeting: no
time, no case, no agency, as every push (a lock screen is read by anyone). The meeting itself
is on the member's network card and in their ``.ics``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.clock import Clock
from server.ids import new_id
from server.messaging.push import PushService
from server.networks import store
from server.networks.service import NetworkService
from server.scheduling import model
from server.scheduling.reminders import in_batches
from server.store.tx import Store


def reminder_push(meeting_id: str) -> dict[str, str]:
    """All a network meeting's reminder push says."""
    return {"type": "reminder", "network_meeting_id": meeting_id}


class NetworkReminders:
    def __init__(self, store_: Store, clock: Clock, push: PushService, networks: NetworkService, *,
                 offsets: tuple[int, ...] = (24 * 3600, 15 * 60), batch: int = 500) -> None:
        if not offsets:
            raise ValueError("at least one reminder offset")
        self.store = store_
        self.clock = clock
        self.push = push
        self.networks = networks
        self.offsets = offsets
        self.batch = batch

    async def run_once(self) -> int:
        """Send what is due now; the number of reminders sent."""
        now = self.clock.now()
        horizon = now + timedelta(seconds=max(self.offsets))

        async def read(conn: AsyncConnection, after: tuple[datetime, str] | None) -> tuple[list[Any], Any]:
            rows = await store.meetings_starting_between(conn, now, horizon, self.batch, after)
            return rows, await store.meetings_reminded(conn, [r.id for r in rows])

        async def visit(rows: list[Any], done: dict[tuple[str, str], set[int]]) -> int:
            # Nothing due for someone never reminded: nothing due for anyone, and no transaction.
            return sum([await self._send(row, done, now) for row in rows
                        if model.plan_reminders(row.starts_at, self.offsets, now, ()).send is not None])

        return await in_batches(self.store, "network_reminder.scan", self.batch, read, visit)

    async def _send(self, meeting: Any, done: dict[tuple[str, str], set[int]], now: datetime) -> int:
        meeting_id, case_id, starts_at = meeting.id, meeting.case_id, meeting.starts_at
        sent: list[str] = []
        async with self.store.write("network_reminder.claim") as conn:
            for user_id in await self.networks.meeting_recipients(conn, case_id, meeting_id):
                plan = model.plan_reminders(starts_at, self.offsets, now, done.get((meeting_id, user_id), ()))
                if plan.send is None:
                    continue
                for offset in plan.skip:
                    await store.claim_meeting_reminder(conn, is_sqlite=self.store.sqlite, id=new_id(),
                                                       meeting_id=meeting_id, user_id=user_id, offset_s=offset,
                                                       delivered=False, created_at=now)
                if not await store.claim_meeting_reminder(conn, is_sqlite=self.store.sqlite, id=new_id(),
                                                          meeting_id=meeting_id, user_id=user_id,
                                                          offset_s=plan.send, delivered=True, created_at=now):
                    continue  # another node or an earlier run sent it
                await audit.append(conn, at=now, actor_id=None, action="reminder.send", target_type="network_meeting",
                                   target_id=meeting_id, case_id=case_id,
                                   details={"user_id": user_id, "offset_s": plan.send})
                sent.append(user_id)
        for user_id in sent:  # after commit, as every notice
            self.push.notify((user_id,), reminder_push(meeting_id), f"reminder|{meeting_id}")
        return len(sent)
