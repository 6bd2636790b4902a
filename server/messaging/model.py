"""Conversations and messages (pure).

Design note. Every message gets a per-conversation ``seq`` from the store inside the
transaction that stores it; the bus only wakes connections after commit. A client
holds the last ``seq`` it saw per conversation and resumes from it, so a lost publish
or a dropped connection loses nothing. The id a client chooses for a send makes a
retry idempotent: the same (sender, id) is stored once and acknowledged again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from server.errors import ConversationClosed


class Kind(StrEnum):
    CASE = "case"  # client <-> supervising officer
    MENTORING = "mentoring"  # mentor <-> mentee
    NETWORK = "network"  # supervising officer + invited partner-agency users
    GROUP = "group"  # a programme cohort and its facilitators (group sessions)


class MessageKind(StrEnum):
    TEXT = "text"
    APPOINTMENT_NOTICE = "appointment_notice"


#: The retention category (and bucket-key category) of message bodies.
CATEGORY = "messages"


@dataclass(frozen=True)
class Member:
    """A conversation member as one viewer is shown them."""

    conversation_id: str
    id: str
    display_name: str
    role: str


#: How the participants of a programme group see one another, set per cohort.
FIRST_NAME, INITIALS = "first_name", "initials"
MEMBER_NAMES = (FIRST_NAME, INITIALS)


def group_name(display_name: str, naming: str) -> str:
    """The name a group uses for a participant: "Anna" or "A. B." for "Anna Maria Berg" is
    "Anna" (first name) or "A. M. B." (initials); never the full name."""
    words = display_name.split()
    if not words:
        return display_name
    if naming == INITIALS:
        return " ".join(f"{w[0]}." for w in words)
    return words[0]


def as_seen_by(viewer_role: str, kind: str, members: list[Any], naming: str = FIRST_NAME) -> list[Member]:
    """In a programme group's conversation the participants see one another by the name the
    group uses (``naming``: first name by default, or initials): a group brings together people
    under supervision, some of whom (a case flagged for domestic violence) must not be findable
    by their full name (issue 13). Staff, and everyone in other conversations, see full names."""
    grouped = viewer_role == "client" and kind == Kind.GROUP
    return [Member(m.conversation_id, m.id,
                   group_name(m.display_name, naming) if grouped and m.role == "client" else m.display_name, m.role)
            for m in members]


def aad(conversation_id: str, seq: int) -> bytes:
    """Associated data binding a message's ciphertext to its place in its conversation."""
    return f"{conversation_id}|{seq}".encode()


def attachment_aad(attachment_id: str, conversation_id: str, content_type: str) -> bytes:
    """Associated data binding an attachment's ciphertext to its id, conversation and type."""
    return f"attachment|{attachment_id}|{conversation_id}|{content_type}".encode()


#: Messages replayed on resume before the client is told to page through REST instead.
REPLAY_LIMIT = 200


@dataclass(frozen=True)
class Ack:
    id: str
    conversation_id: str
    seq: int
    sent_at: datetime
    duplicate: bool = False


@dataclass(frozen=True)
class StoredMessage:
    conversation_id: str
    seq: int
    id: str
    sender_id: str
    kind: str
    body: str
    sent_at: datetime


def message_frame(m: StoredMessage) -> bytes:
    """The ``message`` frame, the same whether published live or replayed on resume."""
    return msgspec.json.encode(
        {
            "type": "message",
            "conversation_id": m.conversation_id,
            "seq": m.seq,
            "id": m.id,
            "sender_id": m.sender_id,
            "kind": m.kind,
            "body": m.body,
            "sent_at": m.sent_at,
        }
    )


def next_cursor(current: int, reported: int, last_seq: int) -> int:
    """A delivered/read cursor only moves forward and never past the last message."""
    return max(current, min(reported, last_seq))


def unread(last_seq: int, read_seq: int) -> int:
    return max(0, last_seq - read_seq)


def refuse_closed(row: Any) -> None:
    """A conversation whose mentoring ended keeps its history for its members and takes no sends."""
    if row.closed_at is not None:
        raise ConversationClosed("This conversation has ended; its history stays readable", reason="messaging.closed")


def bucket_owner(row: Any) -> str:
    """Whose bucket keys encrypt a conversation's messages: its case's, or for a programme group
    (no single case) its cohort's, so retention shreds a group's messages as one."""
    owner = row.case_id or row.cohort_id
    assert owner is not None, "every conversation belongs to a case or a cohort"
    return str(owner)
