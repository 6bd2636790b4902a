"""The schema of mentoring periods (issue 16): a mentor's activity log and the outcomes the
mentor and the officer record. The assignment itself is ``schema.mentor_assignments``."""

from __future__ import annotations

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, LargeBinary, String, Table

from server.store.types import ID, UTCDateTime, metadata

#: One thing a mentor did with their mentee: kind, day and time spent in clear (for the log and
#: its figures); the note (possibly empty) as ciphertext under the case's ``case_notes`` key of
#: the month it was recorded, so the row goes when that key is shredded.
mentoring_activities = Table(
    "mentoring_activities",
    metadata,
    Column("id", ID, primary_key=True),
    Column("assignment_id", ID, ForeignKey("mentor_assignments.id"), nullable=False),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("kind", String(24), nullable=False),  # mentoring.model.ACTIVITY_KINDS
    Column("done_on", Date, nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("recorded_by", ID, ForeignKey("users.id"), nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),
    Column("body", LargeBinary, nullable=False),  # AES-256-GCM ciphertext of the note
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_mentoring_activities_assignment", "assignment_id", "done_on"),
)

#: The outcome of a period, once by each party (the mentor, the officer): completed, or ended
#: early; why, as ciphertext under the case's ``case_notes`` key.
mentoring_outcomes = Table(
    "mentoring_outcomes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("assignment_id", ID, ForeignKey("mentor_assignments.id"), nullable=False),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("party", String(8), nullable=False),  # mentor | officer
    Column("outcome", String(16), nullable=False),  # completed | ended_early
    Column("recorded_by", ID, ForeignKey("users.id"), nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),
    Column("body", LargeBinary, nullable=False),  # AES-256-GCM ciphertext of the reason
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_mentoring_outcomes_party", "assignment_id", "party", unique=True),
)
