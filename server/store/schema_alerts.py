"""Staff alerts (issue 13, item 8).

What a member of staff must be told wherever they are: a client waiting for a check-in,
a client's "I can't talk safely now". Kept until acknowledged (a waiting alert also
resolves itself once the client is admitted or leaves). Ids and times only: the
client's name is read from the case when the alert is read, and that read is audited.
No foreign key to ``checkins``: retention deletes check-in rows with their bucket.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from server.store.types import ID, UTCDateTime, metadata

staff_alerts = Table(
    "staff_alerts", metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),  # whom it is for
    Column("kind", String(24), nullable=False),  # client_waiting | cant_talk_safely | safe_space_failed
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("checkin_id", ID, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolution", String(16), nullable=True),  # acknowledged | admitted | left
    Index("ix_staff_alerts_user_open", "user_id", "resolved_at"),
)
