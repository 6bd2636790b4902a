"""The schema, in SQLAlchemy Core. Alembic migrations are generated from it.

Client data that must be shreddable (case notes now; messages, attachments and
check-in evidence later) is stored only as ciphertext under a bucket key from
``data_keys``; see ``server/crypto``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from server.store.types import ID as ID
from server.store.types import UTCDateTime as UTCDateTime
from server.store.types import metadata as metadata

offices = Table(
    "offices",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("office_id", ID, ForeignKey("offices.id"), nullable=True),
    Column("password_hash", String(200), nullable=True),
    Column("totp_secret", LargeBinary, nullable=True),  # sealed under the KEK
    Column("totp_enabled", Boolean, nullable=False, default=False),
    Column("locale", String(8), nullable=False, default="en"),
    Column("is_demo", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # cookie | bearer
    Column("csrf_token", String(64), nullable=False),
    Column("mfa_pending", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    # Set for a session got from a check-in link's one-time code: it reaches that check-in only.
    Column("checkin_id", ID, nullable=True),
    # Set for a session got from a group session link's one-time code: it reaches that group session only.
    Column("group_session_id", ID, nullable=True),
)

enrolment_codes = Table(
    "enrolment_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

cases = Table(
    "cases",
    metadata,
    Column("id", ID, primary_key=True),
    Column("client_id", ID, ForeignKey("users.id"), nullable=False, unique=True),
    Column("officer_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("office_id", ID, ForeignKey("offices.id"), nullable=False, index=True),
    Column("officer_since", UTCDateTime, nullable=False),
    Column("domestic_violence", Boolean, nullable=False, default=False),
    Column("protected_person", Boolean, nullable=False, default=False),
    Column("low_digital_access", Boolean, nullable=False, default=False),
    Column("interpreter_needed", Boolean, nullable=False, default=False),
    Column("language", String(8), nullable=True),
    Column("legal_hold", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
)

mentor_assignments = Table(
    "mentor_assignments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("mentor_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("client_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("ends_on", Date, nullable=True),  # the period's last day (none before issue 16: open-ended)
    Column("starts_on", Date, nullable=True),  # the period's first day (none before issue 16: created_at's)
    # A mentor has at most one running assignment to a client.
    Index("ix_mentor_assignments_active", "mentor_id", "client_id", unique=True,
          sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
)

network_members = Table(
    "network_members",
    metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Case networks (issue 16): NULL for a member added the old way (add_network_member).
    Column("kind", String(16), nullable=True),  # partner | client
    Column("agency", String(200), nullable=True),
    Column("ends_on", Date, nullable=True),  # the last day of access (UTC)
    Column("ended_at", UTCDateTime, nullable=True),  # the process closed: access ended
    UniqueConstraint("case_id", "user_id", name="uq_network_members_case_user"),
)

face_to_face_meetings = Table(
    "face_to_face_meetings",
    metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("officer_id", ID, ForeignKey("users.id"), nullable=False),
    Column("met_at", UTCDateTime, nullable=False),
    Column("location", String(200), nullable=False),
    Column("recorded_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

remote_exceptions = Table(
    "remote_exceptions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("officer_id", ID, ForeignKey("users.id"), nullable=False),
    Column("granted_by", ID, ForeignKey("users.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

data_keys = Table(
    "data_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, nullable=False),
    Column("category", String(32), nullable=False),
    Column("bucket", String(7), nullable=False),  # YYYY-MM
    Column("wrapped_key", LargeBinary, nullable=True),  # NULL once shredded
    Column("created_at", UTCDateTime, nullable=False),
    Column("destroyed_at", UTCDateTime, nullable=True),
    UniqueConstraint("case_id", "category", "bucket", name="uq_data_keys_bucket"),
)

case_notes = Table(
    "case_notes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("author_id", ID, ForeignKey("users.id"), nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),
    Column("body", LargeBinary, nullable=False),  # AES-256-GCM ciphertext
    Column("created_at", UTCDateTime, nullable=False),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("documents", JSON, nullable=False),  # file name -> TOML text
    Column("author_id", ID, ForeignKey("users.id"), nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_id", ID, nullable=True),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(64), nullable=True),
    Column("case_id", ID, nullable=True),
    Column("details", Text, nullable=False),  # canonical JSON, hashed as stored
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_case_id", "case_id"),
)

# -- programme groups -----------------------------------------------------------

cohorts = Table(
    "cohorts", metadata,
    Column("id", ID, primary_key=True),
    Column("office_id", ID, ForeignKey("offices.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("programme", String(200), nullable=False),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    # How participants see one another in the group: first_name | initials (never the full
    # name staff see); set by the group's facilitators (issue 13).
    Column("member_names", String(16), nullable=False, server_default="first_name"),
)

cohort_members = Table(
    "cohort_members", metadata,
    Column("cohort_id", ID, ForeignKey("cohorts.id"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("role", String(16), nullable=False),  # facilitator | participant
    Column("case_id", ID, ForeignKey("cases.id"), nullable=True),  # a participant's case
    Column("joined_at", UTCDateTime, nullable=False),
    Column("left_at", UTCDateTime, nullable=True),
    Index("ix_cohort_members_user_id", "user_id"),
)

# -- messaging ----------------------------------------------------------------

conversations = Table(
    "conversations", metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(16), nullable=False),  # case | mentoring | network | group
    Column("case_id", ID, ForeignKey("cases.id"), nullable=True, index=True),
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    # A programme group's conversation belongs to its cohort, not to one case (kind = group).
    Column("cohort_id", ID, ForeignKey("cohorts.id"), nullable=True),
    # A mentoring conversation belongs to one mentor assignment: a new mentor starts a new one.
    Column("mentor_assignment_id", ID, ForeignKey("mentor_assignments.id"), nullable=True),
    # Set when its mentor assignment ended: the history stays readable by the remaining
    # members, nobody sends any more.
    Column("closed_at", UTCDateTime, nullable=True),
    # A mentoring conversation's access ends with its period (issue 16): the instant after the
    # period's last day; moved when the officer extends the period.
    Column("access_ends_at", UTCDateTime, nullable=True),
    # A case has one case conversation and one network conversation; mentoring ones are per assignment.
    Index("ix_conversations_case_kind", "case_id", "kind", unique=True,
          sqlite_where=text("kind <> 'mentoring'"), postgresql_where=text("kind <> 'mentoring'")),
    Index("ix_conversations_cohort_id", "cohort_id", unique=True),
    Index("ix_conversations_mentor_assignment_id", "mentor_assignment_id", unique=True),
)

conversation_members = Table(
    "conversation_members", metadata,
    Column("conversation_id", ID, ForeignKey("conversations.id"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("joined_at", UTCDateTime, nullable=False),
    Column("left_at", UTCDateTime, nullable=True),
    Column("delivered_seq", BigInteger, nullable=False, default=0),
    Column("read_seq", BigInteger, nullable=False, default=0),
    Index("ix_conversation_members_user_id", "user_id"),
)

messages = Table(
    "messages", metadata,
    Column("conversation_id", ID, ForeignKey("conversations.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(64), nullable=False),  # chosen by the sending client: retries never duplicate
    Column("sender_id", ID, ForeignKey("users.id"), nullable=False),
    Column("kind", String(24), nullable=False),  # text | appointment_notice
    Column("case_id", ID, nullable=True),  # the bucket owner for shredding
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),
    Column("body", LargeBinary, nullable=False),  # AES-256-GCM ciphertext
    Column("sent_at", UTCDateTime, nullable=False),
    UniqueConstraint("sender_id", "id", name="uq_messages_sender_client_id"),
)

# -- attachments and push (issue 3) --------------------------------------------

attachments = Table(
    "attachments", metadata,
    Column("id", ID, primary_key=True),
    Column("conversation_id", ID, ForeignKey("conversations.id"), nullable=False, index=True),
    Column("uploader_id", ID, ForeignKey("users.id"), nullable=False),
    Column("case_id", ID, nullable=False),  # the bucket owner for shredding
    Column("content_type", String(64), nullable=False),  # one of the allow-list, checked against magic bytes
    Column("size", Integer, nullable=False),  # plaintext bytes
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),
    Column("body", LargeBinary, nullable=False),  # AES-256-GCM ciphertext
    Column("created_at", UTCDateTime, nullable=False),
)

push_subscriptions = Table(
    "push_subscriptions", metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("endpoint", String(2048), nullable=False, unique=True),  # a capability URL: never logged
    Column("p256dh", String(128), nullable=False),  # the browser's ECDH public key, base64url
    Column("auth", String(64), nullable=False),  # the browser's auth secret, base64url
    Column("created_at", UTCDateTime, nullable=False),
)

# -- retention, legal hold, data-subject requests (issue 5) --------------------

legal_holds = Table(
    "legal_holds", metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("set_by", ID, ForeignKey("users.id"), nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
    Column("lifted_by", ID, ForeignKey("users.id"), nullable=True),
    Column("lifted_at", UTCDateTime, nullable=True),
    Column("lift_reason", Text, nullable=True),
)

retention_runs = Table(
    "retention_runs", metadata,
    Column("id", ID, primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),  # NULL: running, or interrupted
    Column("policy_version", Integer, nullable=False),
    Column("counts", JSON, nullable=False),  # category -> rows removed so far; updated in each chunk's transaction
    Column("buckets", Integer, nullable=False, default=0),  # keys destroyed by this run
)

audit_anchor = Table(
    "audit_anchor", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("through_seq", BigInteger, nullable=False),  # the last removed record
    Column("hash", String(64), nullable=False),  # its hash: verification starts here
    Column("at", UTCDateTime, nullable=False),
)

data_requests = Table(
    "data_requests", metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(16), nullable=False),  # erasure | rectification
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("requested_by", ID, ForeignKey("users.id"), nullable=False),
    Column("categories", JSON, nullable=False),  # erasure: the categories asked for
    Column("details", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | granted | refused
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_by", ID, ForeignKey("users.id"), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("decision_reason", Text, nullable=True),
)

# -- scheduling (issue 4) --------------------------------------------------------

appointments = Table(
    "appointments", metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("client_id", ID, ForeignKey("users.id"), nullable=False),
    Column("officer_id", ID, ForeignKey("users.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # in_person | video | phone
    Column("status", String(16), nullable=False),  # scheduled | cancelled
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("location", String(200), nullable=True),
    Column("series_id", ID, nullable=True, index=True),  # occurrences of one series share it
    Column("series_index", Integer, nullable=True),
    Column("sequence", Integer, nullable=False, default=0),  # iCalendar SEQUENCE: bumped on each change
    Column("outcome", String(24), nullable=True),
    Column("outcome_key_id", ID, ForeignKey("data_keys.id"), nullable=True, index=True),
    Column("outcome_note", LargeBinary, nullable=True),  # AES-256-GCM ciphertext (checkin_records)
    Column("outcome_by", ID, ForeignKey("users.id"), nullable=True),
    Column("outcome_at", UTCDateTime, nullable=True),
    Column("cancelled_by", ID, ForeignKey("users.id"), nullable=True),
    Column("cancelled_at", UTCDateTime, nullable=True),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_appointments_officer_starts", "officer_id", "starts_at"),
    Index("ix_appointments_client_starts", "client_id", "starts_at"),
    Index("ix_appointments_status_starts", "status", "starts_at"),
    Index("ix_appointments_starts_at", "starts_at", postgresql_include=["client_id", "kind", "status", "outcome"]),
)

#: One row per (appointment, recipient, offset), inserted before the reminder goes out:
#: the unique key is what makes a reminder go out once across restarts and nodes.
appointment_reminders = Table(
    "appointment_reminders", metadata,
    Column("id", ID, primary_key=True),
    Column("appointment_id", ID, ForeignKey("appointments.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("offset_s", Integer, nullable=False),
    Column("delivered", Boolean, nullable=False),  # False: overtaken by a closer reminder, never sent
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("appointment_id", "user_id", "offset_s", name="uq_appointment_reminders_once"),
)

# -- video check-ins (issue 4) ---------------------------------------------------
# Evidence rows (events, call quality, safe-space answers) and the outcome note are
# ciphertext under the case's bucket key of their retention category, so retention
# shreds them with the bucket (checkin_records, call_quality, safe_space_answers).

checkins = Table(
    "checkins", metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("appointment_id", ID, nullable=True, index=True),  # scheduling's appointment, when there is one
    Column("opens_at", UTCDateTime, nullable=False),
    Column("closes_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("outcome", String(24), nullable=True),
    Column("outcome_by", ID, ForeignKey("users.id"), nullable=True),
    Column("outcome_at", UTCDateTime, nullable=True),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=True, index=True),  # checkin_records: the note
    Column("outcome_note", LargeBinary, nullable=True),
    Column("admitted_at", UTCDateTime, nullable=True),  # the client first let in (issue 16: waiting time)
    Index("ix_checkins_opens_at", "opens_at"),
)

checkin_events = Table(
    "checkin_events", metadata,
    Column("id", ID, primary_key=True),
    Column("checkin_id", ID, ForeignKey("checkins.id"), nullable=False, index=True),
    Column("case_id", ID, nullable=False),  # the bucket owner for shredding
    Column("at", UTCDateTime, nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),  # checkin_records
    Column("body", LargeBinary, nullable=False),  # {kind, user_id, participant, role, detail}
)

call_quality = Table(
    "call_quality", metadata,
    Column("id", ID, primary_key=True),
    Column("checkin_id", ID, ForeignKey("checkins.id"), nullable=False, index=True),
    Column("case_id", ID, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),  # call_quality
    Column("body", LargeBinary, nullable=False),  # {user_id, rtt_ms, loss_pct, bitrate_kbps, ...}
)

safe_space_answers = Table(
    "safe_space_answers", metadata,
    Column("id", ID, primary_key=True),
    Column("checkin_id", ID, ForeignKey("checkins.id"), nullable=False, index=True),
    Column("case_id", ID, nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("side", String(8), nullable=False),  # client | staff
    Column("passed", Boolean, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),  # safe_space_answers
    Column("body", LargeBinary, nullable=False),  # {answers, verdict, unsafe}
)

checkin_codes = Table(
    "checkin_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("checkin_id", ID, ForeignKey("checkins.id"), nullable=False, index=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),  # the client the code signs in
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

checkin_interpreters = Table(
    "checkin_interpreters", metadata,
    Column("checkin_id", ID, ForeignKey("checkins.id"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("invited_by", ID, ForeignKey("users.id"), nullable=False),
    Column("invited_at", UTCDateTime, nullable=False),
)

from server.store import schema_groups as schema_groups  # noqa: E402  (and below: tables in modules of their own)
from server.store.schema_alerts import staff_alerts as staff_alerts  # noqa: E402
from server.store.schema_cluster import room_homes as room_homes  # noqa: E402
from server.store.schema_evaluation import feedback as feedback  # noqa: E402
from server.store.schema_mentoring import mentoring_activities as mentoring_activities  # noqa: E402
from server.store.schema_mentoring import mentoring_outcomes as mentoring_outcomes  # noqa: E402
from server.store.schema_networks import networks as networks  # noqa: E402
