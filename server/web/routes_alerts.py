"""Staff alerts over HTTP: a member of staff's open alerts, and acknowledging one.

The live side is on /ws (``staff_alert`` and ``staff_alert_resolved`` frames on the
person's ``user.<id>`` channel, docs/protocol.md); this list is what a page shows after a
reload, and what a phone woken by a push opens.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct

from server.identity.model import Role
from server.web import schemas as s
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

STAFF = frozenset({Role.OFFICER, Role.SENIOR_OFFICER})
READ = Permission("see their alerts", roles=STAFF)
ACK = Permission("acknowledge their alerts", roles=STAFF)


class AlertOut(Struct, kw_only=True, omit_defaults=True):
    id: str
    kind: str  # client_waiting | cant_talk_safely | safe_space_failed
    checkin_id: str
    case_id: str
    client: s.PersonRef
    created_at: datetime
    appointment_id: str | None = None  # the check-in's appointment, when it has one
    opens_at: datetime | None = None  # the check-in's window


class Alerts(Struct, kw_only=True):
    alerts: list[AlertOut]


def register(api: Registry) -> None:
    @api.route("GET", "/api/alerts", permission=READ, response=Alerts, tag="alerts",
               summary="My open alerts: clients waiting, and \"can't talk safely\" not yet acknowledged")
    async def list_alerts(call: Call[None]) -> Alerts:
        views = await call.request.app[SERVICES].alerts.open_alerts(call.actor)
        return Alerts(alerts=[AlertOut(
            id=v.row.id, kind=v.row.kind, checkin_id=v.row.checkin_id, case_id=v.row.case_id,
            client=s.PersonRef(id=v.row.client_id, display_name=v.row.client_name), created_at=v.row.created_at,
            appointment_id=v.row.appointment_id, opens_at=v.row.opens_at) for v in views])

    @api.route("POST", "/api/alerts/{alert_id}/ack", permission=ACK, tag="alerts",
               summary="Acknowledge one of my alerts (it leaves the list on every device)")
    async def acknowledge(call: Call[None]) -> None:
        await call.request.app[SERVICES].alerts.acknowledge(call.actor, call.param("alert_id"))
