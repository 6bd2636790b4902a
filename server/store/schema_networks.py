"""The schema of case networks (TUKO, issue 16); their members are ``schema.network_members``."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from server.store.types import ID, UTCDateTime, metadata

#: A case's network (TUKO, issue 16): its processes as one document, ciphertext under the case's
#: ``network_records`` key of the month last written; ``stage``, ``process`` in clear for lists.
networks = Table(
    "networks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, unique=True),
    Column("process", Integer, nullable=False),  # the current process's number
    Column("stage", String(32), nullable=False),
    Column("stage_since", UTCDateTime, nullable=False),
    Column("revision", Integer, nullable=False),  # bumped on every write: a lost race is a conflict
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),
    Column("body", LargeBinary, nullable=False),  # AES-256-GCM ciphertext of machine.NetworkState
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_networks_stage", "stage"),
)

#: Network meetings in clear for the reminder task: when, of which case. The meeting itself (how,
#: where, in which process) is the network's document; a reminder asks it before it goes out.
network_meetings = Table(
    "network_meetings",
    metadata,
    Column("id", ID, primary_key=True),  # the meeting's id in the document
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("starts_at", UTCDateTime, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)

#: One row per (meeting, recipient, offset), inserted before the reminder goes out: as
#: ``appointment_reminders``, the unique key makes each reminder go out once across restarts and nodes.
network_meeting_reminders = Table(
    "network_meeting_reminders",
    metadata,
    Column("id", ID, primary_key=True),
    Column("meeting_id", ID, ForeignKey("network_meetings.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("offset_s", Integer, nullable=False),
    Column("delivered", Boolean, nullable=False),  # False: overtaken by a closer reminder, never sent
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("meeting_id", "user_id", "offset_s", name="uq_network_meeting_reminders_once"),
)

#: The tasks of a network's current plan while the process is in stage 4 (coordinated case
#: management), in clear and without their text: who owns each, when it is due, its state. The
#: document is the truth; ``NetworkService._save`` rewrites these rows on every write of it, so the
#: evaluation's "tasks overdue" reads them and decrypts nothing (issue 16, section 3). They go
#: with their network (``ON DELETE CASCADE``: retention deletes the network's row with its key).
network_tasks = Table(
    "network_tasks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("network_id", ID, ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, index=True),
    Column("process", Integer, nullable=False),
    Column("plan_version", Integer, nullable=False),
    Column("task_id", String(16), nullable=False),  # the task's id in the plan ("t1", ...)
    Column("owner_id", ID, ForeignKey("users.id"), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("state", String(8), nullable=False),  # open | done | blocked
    UniqueConstraint("network_id", "task_id", name="uq_network_tasks_task"),
    Index("ix_network_tasks_due_on", "due_on"),
)

#: The safe-space check before a network meeting by video (CEP §5, as for group sessions): one row
#: per answer. The client's answers are sealed under the case's ``safe_space_answers`` bucket key;
#: staff and partner rows keep only the side, the verdict and the time.
network_meeting_safe_space = Table(
    "network_meeting_safe_space",
    metadata,
    Column("id", ID, primary_key=True),
    Column("meeting_id", ID, ForeignKey("network_meetings.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=True, index=True),  # the client's case; others: NULL
    Column("side", String(8), nullable=False),  # client | staff
    Column("passed", Boolean, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=True, index=True),  # safe_space_answers
    Column("body", LargeBinary, nullable=True),  # {answers, verdict, unsafe}; others: NULL
    Index("ix_network_meeting_safe_space_meeting_user", "meeting_id", "user_id"),
)
