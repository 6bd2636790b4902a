"""Which tables hold client data of which retention category.

Design note. Retention, export and the dry-run report never name a table: they walk
this registry. Every table that stores client data encrypted under a keyring bucket
key declares itself here with ONE line: its category, the table, the column naming
the case (the bucket owner), the column holding the key id, the column with the
row's time, and how to rebuild the associated data its ciphertext was sealed with
(so an export can decrypt it). A feature that adds such a table adds its line; a
table missing here would be kept forever, which ``tests/integration/test_retention``
guards by checking that every table with a ``key_id`` column is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table

from server.checkins.evidence import aad as evidence_aad
from server.evaluation.model import comment_aad
from server.groups.attendance import aad as attendance_aad
from server.groups.feedback import comment_aad as group_comment_aad
from server.groups.safe_space import aad as group_safe_space_aad
from server.mentoring.model import aad as mentoring_aad
from server.messaging.model import aad as message_aad
from server.messaging.model import attachment_aad
from server.networks.joining import aad as network_meeting_safe_space_aad
from server.networks.store import body_aad as network_aad
from server.scheduling.model import note_aad as appointment_note_aad
from server.store.schema import (
    appointments,
    attachments,
    call_quality,
    case_notes,
    checkin_events,
    checkins,
    messages,
    networks,
    safe_space_answers,
)
from server.store.schema_evaluation import feedback, group_feedback
from server.store.schema_groups import group_attendance, group_attendance_events, group_safe_space
from server.store.schema_mentoring import mentoring_activities, mentoring_outcomes
from server.store.schema_networks import network_meeting_safe_space


@dataclass(frozen=True)
class Holder:
    category: str
    table: Table
    case_col: str
    key_col: str
    at_col: str
    #: The associated data the row's body was encrypted with (without the key id prefix).
    aad: Callable[[Any], bytes]
    body_col: str = "body"
    #: Columns set to NULL when the category's action is "anonymise" (rows then stay, as
    #: counts, with the encrypted body unreadable and no link to a person). Empty: the
    #: table cannot be anonymised and its rows are deleted.
    anonymise_nulls: tuple[str, ...] = ()
    #: The encrypted value is a note inside a row that outlives it (a check-in, an appointment):
    #: when its key goes, ``anonymise_nulls`` (the key and the note) are cleared, the row stays.
    clear_only: bool = False
    #: The row is the case's own record with or without its sealed value (an answer's face stays
    #: when its comment goes, and may never have had one): an export lists it either way, and a
    #: granted erasure of the category deletes the case's rows, not only their sealed values.
    case_record: bool = False

    def col(self, name: str) -> Column[Any]:
        return self.table.c[name]

    @property
    def pk(self) -> tuple[Column[Any], ...]:
        return tuple(self.table.primary_key.columns)


HOLDERS: tuple[Holder, ...] = (
    Holder("messages", messages, "case_id", "key_id", "sent_at", lambda r: message_aad(r.conversation_id, int(r.seq))),
    Holder("attachments", attachments, "case_id", "key_id", "created_at",
           lambda r: attachment_aad(r.id, r.conversation_id, r.content_type)),
    Holder("case_notes", case_notes, "case_id", "key_id", "created_at", lambda r: str(r.id).encode()),
    # Video check-ins (issue 4): evidence rows, and the outcome notes of check-ins and appointments.
    Holder("checkin_records", checkin_events, "case_id", "key_id", "at",
           lambda r: evidence_aad("checkin_events", r.id, r.checkin_id)),
    Holder("call_quality", call_quality, "case_id", "key_id", "at",
           lambda r: evidence_aad("call_quality", r.id, r.checkin_id)),
    Holder("safe_space_answers", safe_space_answers, "case_id", "key_id", "at",
           lambda r: evidence_aad("safe_space_answers", r.id, r.checkin_id)),
    # A participant's safe-space answers before a live group session (staff rows have no case).
    Holder("safe_space_answers", group_safe_space, "case_id", "key_id", "at",
           lambda r: group_safe_space_aad(r.id, r.session_id)),
    # The client's safe-space answers before a case-network meeting by video (others' rows have no case).
    Holder("safe_space_answers", network_meeting_safe_space, "case_id", "key_id", "at",
           lambda r: network_meeting_safe_space_aad(r.id, r.meeting_id)),
    Holder("checkin_records", checkins, "case_id", "key_id", "outcome_at",
           lambda r: evidence_aad("checkins", r.id, r.id), body_col="outcome_note",
           anonymise_nulls=("key_id", "outcome_note"), clear_only=True),
    Holder("checkin_records", appointments, "case_id", "outcome_key_id", "outcome_at",
           lambda r: appointment_note_aad(r.id), body_col="outcome_note",
           anonymise_nulls=("outcome_key_id", "outcome_note"), clear_only=True),
    # Group programme sessions (issue 14): the register's evidence, and the confirmed lines, which
    # may be anonymised (kept as counts for programme evaluation, with no link to a person).
    Holder("group_attendance", group_attendance_events, "case_id", "key_id", "at",
           lambda r: attendance_aad("group_attendance_events", r.id, r.session_id)),
    Holder("group_attendance", group_attendance, "case_id", "key_id", "confirmed_at",
           lambda r: attendance_aad("group_attendance", r.id, r.session_id),
           anonymise_nulls=("key_id", "body", "user_id", "case_id")),
    # Case networks (issue 16): the network's document, sealed under the month it was last written.
    Holder("network_records", networks, "case_id", "key_id", "updated_at", lambda r: network_aad(r.id, r.case_id)),
    # Mentoring periods (issue 16): the mentor's activity log and the outcomes, kept as case notes are.
    Holder("case_notes", mentoring_activities, "case_id", "key_id", "created_at",
           lambda r: mentoring_aad("mentoring_activities", r.id)),
    Holder("case_notes", mentoring_outcomes, "case_id", "key_id", "created_at",
           lambda r: mentoring_aad("mentoring_outcomes", r.id)),
    # Evaluation (issue 16): the optional comment after a check-in goes, its face stays as a count.
    Holder("feedback_comments", feedback, "case_id", "key_id", "given_at", lambda r: comment_aad(r.id),
           body_col="comment", anonymise_nulls=("key_id", "comment"), clear_only=True, case_record=True),
    # The same after a live group session: a participant's answer is their case's (exported, erased
    # with it); a staff member's comment is sealed under the cohort (the bucket owner is then the
    # cohort, not a case; its rows have no case), which the sweep reaches as any other bucket.
    Holder("feedback_comments", group_feedback, "case_id", "key_id", "given_at",
           lambda r: group_comment_aad(r.id, r.session_id), body_col="comment",
           anonymise_nulls=("key_id", "comment"), clear_only=True, case_record=True),
)


def holders_of(category: str) -> tuple[Holder, ...]:
    return tuple(h for h in HOLDERS if h.category == category)
