"""The engine's input: what the caller knows about who asks to do what.

The caller (an action function) gathers these facts from the store; the engine never
looks anything up. Facts are checked when built so a mistyped action or a naive datetime
fails loudly at the call site instead of silently matching no rule.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from server.policy.schema import CATEGORIES

ROLES = (
    "client",
    "officer",
    "senior_officer",
    "facilitator",
    "mentor",
    "partner",
    "interpreter",
    "admin",
    "room_device",
)
STAFF_ROLES = ("officer", "senior_officer", "facilitator", "admin")

#: The actor's relation to the case, computed by the caller from assignments, or for
#: ``act_in_office`` their relation to the office (``own_office``, ``cross_office``).
RELATIONS = (
    "supervising_officer",
    "office_senior",
    "client_self",
    "mentor",
    "network_partner",
    "interpreter_invited",
    "facilitator",
    "own_office",
    "cross_office",
    "none",
)

SUPERVISE_REMOTELY = "supervise_remotely"
SEND_MESSAGE = "send_message"
START_VIDEO = "start_video"
JOIN_GROUP = "join_group"
ENROL_GROUP = "enrol_group"
READ_CASE = "read_case"
WRITE_CASE = "write_case"
GRANT_EXCEPTION = "grant_exception"
#: Anything done to an office's accounts or cases from outside a case: user
#: administration, opening a case, an admin's acts on a case of the office.
ACT_IN_OFFICE = "act_in_office"
#: A case network (TUKO, issue 16): seeing it, and taking part in it. Which step of the
#: process a participant may take is the network's own table (``server/networks/machine.py``).
READ_NETWORK = "read_network"
WRITE_NETWORK = "write_network"
#: A mentoring period (issue 16): the mentor's and the mentee's access to it, and recording
#: its outcome (the mentor may do so for a while after the period ends).
READ_MENTORING = "read_mentoring"
WRITE_MENTORING = "write_mentoring"
RECORD_MENTORING_OUTCOME = "record_mentoring_outcome"
ACTIONS = (
    SUPERVISE_REMOTELY,
    SEND_MESSAGE,
    START_VIDEO,
    JOIN_GROUP,
    ENROL_GROUP,
    READ_CASE,
    WRITE_CASE,
    GRANT_EXCEPTION,
    ACT_IN_OFFICE,
    READ_NETWORK,
    WRITE_NETWORK,
    READ_MENTORING,
    WRITE_MENTORING,
    RECORD_MENTORING_OUTCOME,
)

MESSAGE_KINDS = ("text", "appointment_notice")
NETWORK_QUALITIES = ("good", "poor", "none")


def _require_utc_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _require_one_of(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")


class ActorFacts(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    role: str
    office_id: str | None
    #: A cross-office administrator named by the deployment (identity/scope.py).
    cross_office: bool = False

    def __post_init__(self) -> None:
        _require_one_of("role", self.role, ROLES)
        if self.cross_office and (self.role != "admin" or self.office_id is not None):
            raise ValueError("only an admin with no office is a cross-office administrator")


class CaseFacts(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    office_id: str
    officer_id: str
    client_id: str
    #: Face-to-face meetings recorded with the CURRENT supervising officer.
    face_to_face_with_current_officer: int
    face_to_face_total: int
    #: End of an active senior-officer exception (tz-aware UTC), or None.
    exception_until: datetime | None
    domestic_violence: bool = False
    protected_person: bool = False
    low_digital_access: bool = False
    interpreter_needed: bool = False
    language: str | None = None
    legal_hold: bool = False

    def __post_init__(self) -> None:
        _require_utc_aware("exception_until", self.exception_until)
        if not 0 <= self.face_to_face_with_current_officer <= self.face_to_face_total:
            raise ValueError("face_to_face_with_current_officer must be between 0 and face_to_face_total")


class OfficeFacts(msgspec.Struct, frozen=True, kw_only=True):
    #: The office an ``act_in_office`` request touches; None: an account of no office.
    office_id: str | None


class GroupFacts(msgspec.Struct, frozen=True, kw_only=True):
    #: People already in the session, before this join.
    participants: int
    #: Facilitators already in the session, before this join.
    facilitators: int
    hybrid: bool
    recording: bool
    #: Whether the joining person has accepted the confidentiality agreement.
    confidentiality_accepted: bool

    def __post_init__(self) -> None:
        if self.participants < 0 or self.facilitators < 0:
            raise ValueError("participant and facilitator counts cannot be negative")


class NetworkFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The actor's place in the current process of a case's network."""

    #: A member of the current process (not the case leader, who is known by ``relation``).
    member: bool
    #: "partner" or "client"; None when not a member.
    member_kind: str | None = None
    #: The member's access has not ended (end date, UTC, not passed; process not closed).
    #: Computed by the caller from its clock: the rule itself never reads ``now``.
    access_open: bool = False
    #: The case leader recorded why it is safe for the client to take part.
    safety_reason_recorded: bool = False

    def __post_init__(self) -> None:
        _require_one_of("member_kind", self.member_kind, ("partner", "client"))
        if self.member != (self.member_kind is not None):
            raise ValueError("a member has a member_kind, a non-member none")


class MentoringFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The actor's place in one mentoring period. Computed by the caller from its clock."""

    #: "mentor" or "mentee" of the assignment.
    party: str
    #: The period has not reached its end (and the assignment was not ended).
    period_open: bool
    #: The time to record an outcome after the end has not run out.
    outcome_open: bool = False

    def __post_init__(self) -> None:
        _require_one_of("party", self.party, ("mentor", "mentee"))


class PolicyRequest(msgspec.Struct, frozen=True, kw_only=True):
    action: str
    actor: ActorFacts
    now: datetime
    case: CaseFacts | None = None
    office: OfficeFacts | None = None
    relation: str = "none"
    message_kind: str | None = None
    category: str | None = None
    group: GroupFacts | None = None
    network_quality: str | None = None
    network: NetworkFacts | None = None
    mentoring: MentoringFacts | None = None

    def __post_init__(self) -> None:
        _require_one_of("action", self.action, ACTIONS)
        _require_one_of("relation", self.relation, RELATIONS)
        _require_one_of("message_kind", self.message_kind, MESSAGE_KINDS)
        _require_one_of("network_quality", self.network_quality, NETWORK_QUALITIES)
        _require_one_of("category", self.category, CATEGORIES)
        _require_utc_aware("now", self.now)
