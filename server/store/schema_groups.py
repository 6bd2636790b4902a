"""The schema of group programme sessions (issue 14): sessions, rooms and room devices,
the cohort's confidentiality agreement, attendance evidence and the register.

Attendance evidence and confirmed register lines are a participant's case data: each row
is ciphertext under the case's bucket key of ``group_attendance`` (server/crypto), so
retention shreds (or anonymises) them with the bucket. A register line keeps its status in
clear beside the ciphertext, as an appointment keeps its outcome: the follow-up list and
programme counts read it; the details (times, minutes, quality, the facilitator's note)
are sealed.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text, UniqueConstraint

from server.store.types import ID, UTCDateTime, metadata

#: An office or prison room in which a group may meet, with a room device in it.
rooms = Table(
    "rooms", metadata,
    Column("id", ID, primary_key=True),
    Column("office_id", ID, ForeignKey("offices.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("kind", String(16), nullable=False),  # office | prison
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

#: A room device holds no personal data. It shows a short pairing code on its screen (as
#: TVs do); an admin or senior of the office enters the code to register it for a room, and
#: the device then claims its own ``room_device`` account with the secret only it holds.
room_devices = Table(
    "room_devices", metadata,
    Column("id", ID, primary_key=True),
    Column("room_id", ID, ForeignKey("rooms.id"), nullable=True, index=True),  # NULL until paired
    Column("user_id", ID, ForeignKey("users.id"), nullable=True, unique=True),  # its account, once paired
    Column("name", String(120), nullable=True),
    Column("code_hash", String(64), nullable=True, unique=True),  # sha-256 of the pairing code, until paired
    Column("code_expires_at", UTCDateTime, nullable=True),
    Column("secret_hash", String(64), nullable=True),  # sha-256 of the device's claim secret, until claimed
    Column("created_at", UTCDateTime, nullable=False),
    Column("registered_by", ID, ForeignKey("users.id"), nullable=True),
    Column("registered_at", UTCDateTime, nullable=True),
    Column("paired_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

group_sessions = Table(
    "group_sessions", metadata,
    Column("id", ID, primary_key=True),
    Column("cohort_id", ID, ForeignKey("cohorts.id"), nullable=False, index=True),
    Column("office_id", ID, ForeignKey("offices.id"), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("series_id", ID, nullable=True, index=True),
    Column("series_index", Integer, nullable=True),
    Column("sequence", Integer, nullable=False, default=0),  # iCalendar SEQUENCE
    Column("status", String(16), nullable=False),  # scheduled | cancelled
    Column("room_id", ID, ForeignKey("rooms.id"), nullable=True),
    #: The media node the session's media lives on (its home node), set when it starts.
    Column("home_node", String(120), nullable=True),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("cancelled_by", ID, ForeignKey("users.id"), nullable=True),
    Column("cancelled_at", UTCDateTime, nullable=True),
    Column("register_confirmed_by", ID, ForeignKey("users.id"), nullable=True),
    Column("register_confirmed_at", UTCDateTime, nullable=True),
    Index("ix_group_sessions_starts_at", "starts_at"),
)

#: Co-facilitators and the observer (a programme mentor) of one session.
group_session_staff = Table(
    "group_session_staff", metadata,
    Column("session_id", ID, ForeignKey("group_sessions.id"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("role", String(16), nullable=False),  # co_facilitator | observer
    Column("added_by", ID, ForeignKey("users.id"), nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
)

#: A cohort's own settings: its confidentiality agreement (versioned) and whether enrolled
#: participants are admitted without waiting in the lobby.
cohort_settings = Table(
    "cohort_settings", metadata,
    Column("cohort_id", ID, ForeignKey("cohorts.id"), primary_key=True),
    Column("agreement_text", Text, nullable=True),
    Column("agreement_version", Integer, nullable=False, default=0),
    Column("auto_admit", Boolean, nullable=False, default=False),
    Column("updated_by", ID, ForeignKey("users.id"), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

agreement_acceptances = Table(
    "agreement_acceptances", metadata,
    Column("cohort_id", ID, ForeignKey("cohorts.id"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("accepted_at", UTCDateTime, nullable=False),
)

#: Evidence for the register: {kind: arrived | present | absent | in_room | not_in_room | quality, ...}.
group_attendance_events = Table(
    "group_attendance_events", metadata,
    Column("id", ID, primary_key=True),
    Column("session_id", ID, ForeignKey("group_sessions.id"), nullable=False, index=True),
    Column("case_id", ID, nullable=False),  # the bucket owner
    Column("at", UTCDateTime, nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),  # group_attendance
    Column("body", LargeBinary, nullable=False),
)

#: The confirmed register: one line per participant and session, saved to their case.
group_attendance = Table(
    "group_attendance", metadata,
    Column("id", ID, primary_key=True),
    Column("session_id", ID, ForeignKey("group_sessions.id"), nullable=False, index=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=True),  # NULL once anonymised
    Column("case_id", ID, nullable=True, index=True),  # NULL once anonymised
    Column("status", String(24), nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=True, index=True),  # group_attendance
    Column("body", LargeBinary, nullable=True),  # {minutes, joined_at, left_at, drops, late, in_room, quality, note}
    Column("confirmed_by", ID, ForeignKey("users.id"), nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=False),
    UniqueConstraint("session_id", "user_id", name="uq_group_attendance_session_user"),
)

#: A group session's reminders, one row per (session, recipient, offset): the "once" of
#: reminders (server/groups/reminders.py), as ``appointment_reminders`` is for appointments.
group_session_reminders = Table(
    "group_session_reminders", metadata,
    Column("id", ID, primary_key=True),
    Column("session_id", ID, ForeignKey("group_sessions.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("offset_s", Integer, nullable=False),
    Column("delivered", Boolean, nullable=False),  # False: overtaken by a closer reminder, never sent
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("session_id", "user_id", "offset_s", name="uq_group_session_reminders_once"),
)

#: One-time codes of group session join links (as ``checkin_codes``): the sha-256 of the code,
#: the participant it signs in, spent once, void after the session's join window.
group_session_codes = Table(
    "group_session_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("session_id", ID, ForeignKey("group_sessions.id"), nullable=False, index=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

#: Safe-space checks before a live group session (CEP §5: safe space for client and staff,
#: enforced by the server). A participant's answers are sealed under their case's bucket key of
#: ``safe_space_answers``; staff have no case to seal under, so their rows keep only the side,
#: the verdict and the time (no answers). A pass holds for the session (a rejoin is not asked again).
group_safe_space = Table(
    "group_safe_space", metadata,
    Column("id", ID, primary_key=True),
    Column("session_id", ID, ForeignKey("group_sessions.id"), nullable=False, index=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=True, index=True),  # a participant's case; staff: NULL
    Column("side", String(8), nullable=False),  # client | staff
    Column("passed", Boolean, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=True, index=True),  # safe_space_answers
    Column("body", LargeBinary, nullable=True),  # {answers, verdict, unsafe}; staff: NULL
    Index("ix_group_safe_space_session_user", "session_id", "user_id"),
)
