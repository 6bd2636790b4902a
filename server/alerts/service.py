"""Staff alert action functions: raise, resolve, list and acknowledge.

An alert is for the case's supervising officer (the officer of the check-in), who is
told on every open page by a live frame on ``user.<id>`` and, when no page of theirs is
open anywhere, by a content-free Web Push (server/messaging/push.py). Reading the list
renders the client's name from the case: an audited read of each case listed (GDPR art.
30), and only of cases still in the reader's scope (an alert of a case handed over to
someone else is not shown). Anybody else's alert is answered as one that does not exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from server.alerts import store
from server.alerts.model import AlertKind, Resolution, StaffAlert, StaffAlertResolved, push_payload
from server.audit import store as audit
from server.bus.base import Bus
from server.cases.service import CaseService
from server.clock import Clock
from server.errors import NotFound, OutOfScope, Unavailable
from server.identity.model import Actor
from server.ids import new_id
from server.messaging.push import PushService
from server.store.tx import Store

log = logging.getLogger(__name__)
MAX_LISTED = 100


@dataclass(frozen=True)
class Raised:
    """An alert stored in a transaction, to be announced after its commit."""

    id: str
    user_id: str
    kind: AlertKind
    checkin_id: str
    case_id: str
    at: datetime


@dataclass(frozen=True)
class AlertView:
    row: Any  # staff_alerts columns plus client_id, client_name, appointment_id, opens_at


class AlertService:
    def __init__(self, store_: Store, clock: Clock, cases: CaseService, bus: Bus, push: PushService) -> None:
        self.store = store_
        self.clock = clock
        self.cases = cases
        self.bus = bus
        self.push = push

    # -- raising (inside the caller's transaction, announced after its commit) ------------

    async def raise_in(self, conn: AsyncConnection, *, user_id: str, kind: AlertKind, checkin_id: str,
                       case_id: str) -> Raised | None:
        """Store an alert for ``user_id``; None when the same self-resolving alert is open already
        (a client who reloads the waiting room is one waiting client)."""
        if kind is AlertKind.CLIENT_WAITING and any(
                r.user_id == user_id for r in await store.open_of_checkin(conn, checkin_id, kind.value)):
            return None
        now = self.clock.now()
        alert_id = new_id()
        await store.insert(conn, id=alert_id, user_id=user_id, kind=kind.value, case_id=case_id,
                           checkin_id=checkin_id, created_at=now)
        await audit.append(conn, at=now, actor_id=None, action="alert.raise", target_type="alert",
                           target_id=alert_id, case_id=case_id,
                           details={"kind": kind.value, "user_id": user_id, "checkin_id": checkin_id})
        return Raised(alert_id, user_id, kind, checkin_id, case_id, now)

    async def announce(self, raised: Raised | None) -> None:
        """After the commit: the live frame to the person's open pages, else a push to their phone."""
        if raised is None:
            return
        frame = StaffAlert(id=raised.id, kind=raised.kind.value, checkin_id=raised.checkin_id,
                           case_id=raised.case_id, at=raised.at)
        try:
            (reached,) = await self.bus.publish_many([(f"user.{raised.user_id}", msgspec.json.encode(frame))])
        except Unavailable:
            log.warning("alert not published; it stays in the list")
            reached = None
        if not reached:  # no page open on any node (unknown: this node's own check at delivery)
            self.push.notify((raised.user_id,), push_payload(raised.kind, raised.checkin_id),
                             f"alert|{raised.checkin_id}|{raised.kind.value}", recheck_local=reached is None)

    async def client_waiting(self, *, officer_id: str, checkin_id: str, case_id: str) -> None:
        """A client is in the check-in's waiting room."""
        async with self.store.write("alert.waiting") as conn:
            raised = await self.raise_in(conn, user_id=officer_id, kind=AlertKind.CLIENT_WAITING,
                                         checkin_id=checkin_id, case_id=case_id)
        await self.announce(raised)

    async def waiting_over(self, checkin_id: str, resolution: Resolution) -> None:
        """Nobody waits any more in the check-in's waiting room: its waiting alerts resolve."""
        async with self.store.write("alert.waiting_over") as conn:
            done = await self.resolve_in(conn, checkin_id, resolution, AlertKind.CLIENT_WAITING)
        await self.announce_resolved(done, resolution)

    async def resolve_in(self, conn: AsyncConnection, checkin_id: str, resolution: Resolution,
                         kind: AlertKind | None = None) -> list[tuple[str, str]]:
        """Resolve a check-in's open alerts (of ``kind``, or all) inside the caller's transaction;
        returns (user id, alert id) of each, for ``announce_resolved`` after the commit."""
        now = self.clock.now()
        done: list[tuple[str, str]] = []
        for row in await store.open_of_checkin(conn, checkin_id, kind.value if kind else None):
            if await store.resolve(conn, row.id, now, resolution.value):
                await audit.append(conn, at=now, actor_id=None, action="alert.resolve", target_type="alert",
                                   target_id=row.id, case_id=row.case_id, details={"resolution": resolution.value})
                done.append((row.user_id, row.id))
        return done

    async def announce_resolved(self, done: list[tuple[str, str]], resolution: Resolution) -> None:
        for user_id, alert_id in done:
            await self._publish(user_id, StaffAlertResolved(id=alert_id, resolution=resolution.value))

    async def _publish(self, user_id: str, frame: Any) -> None:
        try:
            await self.bus.publish(f"user.{user_id}", msgspec.json.encode(frame))
        except Unavailable:
            log.warning("alert change not published", extra={"user": user_id})

    # -- reading and acknowledging -----------------------------------------------------------

    async def open_alerts(self, actor: Actor) -> list[AlertView]:
        """The actor's open alerts, newest first; each case listed is an audited read."""
        now = self.clock.now()
        out: list[AlertView] = []
        async with self.store.write("alert.list") as conn:
            rows = await store.open_for(conn, actor.user_id, MAX_LISTED)
            views = await conn.run_sync(self.cases.views_in, {r.case_id for r in rows}, now)
            read: set[str] = set()
            for row in rows:
                view = views.get(row.case_id)
                if view is None or not self.cases.decide(actor, "read_case", view, now=now).allowed:
                    continue
                out.append(AlertView(row))
                if row.case_id not in read:
                    read.add(row.case_id)
                    await audit.append(conn, at=now, actor_id=actor.user_id, action="case.read", target_type="case",
                                       target_id=row.case_id, case_id=row.case_id, details={"via": "alerts"})
        return out

    async def acknowledge(self, actor: Actor, alert_id: str) -> None:
        """Close one of the actor's alerts. Acknowledging it twice (two devices) is not an error."""
        now = self.clock.now()
        async with self.store.write("alert.ack") as conn:
            row = await store.alert(conn, alert_id)
            if row is None:
                raise NotFound("No such alert")
            if row.user_id != actor.user_id:
                raise OutOfScope("No such alert")
            changed = await store.resolve(conn, alert_id, now, Resolution.ACKNOWLEDGED.value)
            if changed:
                await audit.append(conn, at=now, actor_id=actor.user_id, action="alert.ack", target_type="alert",
                                   target_id=alert_id, case_id=row.case_id, details={"kind": row.kind})
        if changed:
            await self._publish(actor.user_id, StaffAlertResolved(id=alert_id,
                                                                  resolution=Resolution.ACKNOWLEDGED.value))
