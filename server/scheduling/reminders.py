"""Reminders: a background task that finds due reminders and sends each once.

Design note. Which reminder is due is decided by ``model.plan_reminders`` (pure). This
shell reads appointments starting within the longest offset, and for each due one
inserts an ``appointment_reminders`` row before anything goes out. The row's unique key
(appointment, recipient, offset) is the "once": a restarted node finds it and sends
nothing, and of two nodes racing, only the one whose insert took effect sends. A node
that dies between its commit and the send loses that reminder rather than sending it
twice; the in-app list (``GET /api/reminders``) still shows it. Each reminder goes out
in-app as a ``reminder`` frame on the recipient's ``user.<id>`` bus channel and, to
recipients with no open connection, as a content-free Web Push. Other features' reminders
(group sessions: server/groups/reminders.py) run in the same pass through ``also``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.bus.base import Bus
from server.clock import Clock
from server.errors import Unavailable
from server.ids import new_id
from server.messaging.push import PushService
from server.scheduling import model, store
from server.store.tx import Store

log = logging.getLogger("tandem.reminders")


async def in_batches(store_: Store, name: str, batch: int,
                     read: Callable[[AsyncConnection, tuple[datetime, str] | None], Awaitable[tuple[list[Any], Any]]],
                     visit: Callable[[list[Any], Any], Awaitable[int]]) -> int:
    """Scan what starts soon in batches of ``batch``, so a busy day never starves what comes after
    the first batch: ``read`` (one read transaction) returns a batch of rows in (starts_at, id)
    order after the given key and whatever else it read with them; ``visit`` sends what is due
    and says how many. The number sent."""
    sent = 0
    after: tuple[datetime, str] | None = None
    while True:
        async with store_.read(name) as conn:
            rows, extra = await read(conn, after)
        sent += await visit(rows, extra)
        if len(rows) < batch:
            return sent
        after = (rows[-1].starts_at, rows[-1].id)


class ReminderService:
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
        #: Other features' passes (same offsets, bus and push), run after the appointments'.
        self.also: list[Callable[[], Awaitable[int]]] = []

    async def run_once(self) -> int:
        """Send what is due now (appointments, then every ``also``); the number of reminders sent."""
        sent = await self._appointments()
        for more in self.also:
            sent += await more()
        return sent

    async def _appointments(self) -> int:
        now = self.clock.now()
        horizon = now + timedelta(seconds=max(self.offsets))
        sent = 0
        after: tuple[datetime, str] | None = None
        while True:  # in batches, so a busy day never starves the appointments after the first batch
            async with self.store.read("reminder.scan") as conn:
                rows = await store.starting_between(conn, now, horizon, self.batch, after)
                done = await store.reminded(conn, [r.id for r in rows])
            for row in rows:
                for user_id in (row.client_id, row.officer_id):
                    plan = model.plan_reminders(row.starts_at, self.offsets, now, done.get((row.id, user_id), ()))
                    if plan.send is not None:
                        sent += await self._send(row.id, user_id, plan)
            if len(rows) < self.batch:
                return sent
            after = (rows[-1].starts_at, rows[-1].id)

    async def _send(self, appointment_id: str, user_id: str, plan: model.ReminderPlan) -> int:
        assert plan.send is not None
        reminder_id = new_id()
        now = self.clock.now()
        async with self.store.write("reminder.claim") as conn:
            current = await store.appointment(conn, appointment_id)
            if current is None or current.status != model.Status.SCHEDULED:
                return 0  # cancelled since the scan
            for offset in plan.skip:
                await store.claim_reminder(conn, is_sqlite=self.store.sqlite, id=new_id(),
                                           appointment_id=appointment_id, user_id=user_id, offset_s=offset,
                                           delivered=False, created_at=now)
            claimed = await store.claim_reminder(conn, is_sqlite=self.store.sqlite, id=reminder_id,
                                                 appointment_id=appointment_id, user_id=user_id,
                                                 offset_s=plan.send, delivered=True, created_at=now)
            if not claimed:
                return 0  # another node or an earlier run sent it
            await audit.append(conn, at=now, actor_id=None, action="reminder.send", target_type="appointment",
                               target_id=appointment_id, case_id=current.case_id,
                               details={"user_id": user_id, "offset_s": plan.send})
            appt = model.appointment_of(current)
        frame = msgspec.json.encode(model.reminder_frame(reminder_id=reminder_id, appointment=appt,
                                                         offset_s=plan.send))
        try:  # the count says whether a connection on some node got it live
            (reached,) = await self.bus.publish_many([(f"user.{user_id}", frame)])
        except Unavailable:
            log.warning("reminder publish failed; it stays in the in-app list")
            reached = None
        if not reached:  # pushed when no node has them online (unknown: this node's own check)
            self.push.notify((user_id,), model.reminder_push(appointment_id), f"reminder|{appointment_id}",
                             recheck_local=reached is None)
        return 1

    async def run(self, interval_s: float) -> None:
        """Forever: sleep, then one pass. A failed pass is logged and retried next time."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.run_once()
            except Exception:
                log.exception("reminder pass failed")
