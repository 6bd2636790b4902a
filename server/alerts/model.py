"""Staff alerts (pure): what an officer must be told wherever they are, and what it says.

An alert is kept until it is acknowledged (CEP 2024 §5: the "I can't talk safely now"
alert must reach the officer "quietly" but surely, not only while a page happens to be
open). A ``client_waiting`` alert is about the present: it resolves itself when the
client is admitted or leaves the waiting room; the other kinds stay until acknowledged.

    open --acknowledge--> acknowledged
    open (client_waiting) --admitted | left--> resolved
    open --recorded--> resolved      (the check-in's outcome was recorded: it has been dealt with)

The live frames and the push payload carry ids and the kind only. The client's name is
rendered when an alert is read through the API (an audited read of the case); a push,
which a lock screen shows to whoever holds the phone, never names anyone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from server.web.frames import Outbound


class AlertKind(StrEnum):
    CLIENT_WAITING = "client_waiting"
    CANT_TALK_SAFELY = "cant_talk_safely"
    SAFE_SPACE_FAILED = "safe_space_failed"


class Resolution(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ADMITTED = "admitted"
    LEFT = "left"
    RECORDED = "recorded"


#: Kinds that resolve themselves (the others wait for the officer's acknowledgement).
SELF_RESOLVING = frozenset({AlertKind.CLIENT_WAITING})


class StaffAlert(Outbound, tag="staff_alert"):
    """A new alert, to every connection of the member of staff it is for."""

    id: str
    kind: str
    checkin_id: str
    case_id: str
    at: datetime


class StaffAlertResolved(Outbound, tag="staff_alert_resolved"):
    """An alert is no longer open (acknowledged on another device, or the client was let in or left)."""

    id: str
    resolution: str


def push_payload(kind: AlertKind, checkin_id: str) -> dict[str, str]:
    """All an alert's push says: that there is one, its kind and the check-in's id. No name."""
    return {"type": "staff_alert", "kind": kind.value, "checkin_id": checkin_id}
