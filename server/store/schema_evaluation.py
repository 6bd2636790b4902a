"""The schema of evaluation (issue 16, section 3): the one optional question after a check-in.

A face (1 unhappy, 2 neutral, 3 happy) is kept in clear, for the figures; the optional comment
is ciphertext under the case's ``feedback_comments`` bucket key, so retention clears it (30 days
after its month's last comment) and the face stays as a count. No foreign key to ``checkins``:
retention deletes check-in rows with their bucket, the feedback counts outlive them.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, LargeBinary, SmallInteger, String, Table

from server.store.types import ID, UTCDateTime, metadata

feedback = Table(
    "feedback", metadata,
    Column("id", ID, primary_key=True),
    Column("checkin_id", ID, nullable=False),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),  # the bucket owner
    Column("office_id", ID, ForeignKey("offices.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),  # who answered
    Column("side", String(8), nullable=False),  # client | staff
    Column("face", SmallInteger, nullable=False),  # 1 unhappy | 2 neutral | 3 happy
    Column("given_at", UTCDateTime, nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=True, index=True),  # feedback_comments
    Column("comment", LargeBinary, nullable=True),  # AES-256-GCM ciphertext of the comment
    Index("ix_feedback_checkin_user", "checkin_id", "user_id", unique=True),  # one answer each
    Index("ix_feedback_given_at", "given_at"),
)

#: The same question after a live group session (issue 16: "staff the same after each session"):
#: a participant who attended and the session's staff answer once each. A participant's comment
#: is sealed under their case's ``feedback_comments`` bucket key, a staff member's (who has no
#: case) under the cohort's; retention clears both after 30 days and the face stays as a count.
group_feedback = Table(
    "group_feedback", metadata,
    Column("id", ID, primary_key=True),
    Column("session_id", ID, ForeignKey("group_sessions.id"), nullable=False),
    Column("cohort_id", ID, ForeignKey("cohorts.id"), nullable=False),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=True, index=True),  # a participant's; staff: NULL
    Column("office_id", ID, ForeignKey("offices.id"), nullable=False),  # the session's office
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("side", String(8), nullable=False),  # client | staff
    Column("face", SmallInteger, nullable=False),
    Column("given_at", UTCDateTime, nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=True, index=True),  # feedback_comments
    Column("comment", LargeBinary, nullable=True),
    Index("ix_group_feedback_session_user", "session_id", "user_id", unique=True),  # one answer each
    Index("ix_group_feedback_given_at", "given_at"),
)
