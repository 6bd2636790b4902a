"""Request and response bodies of the HTTP API (pure). Strict: unknown fields are
refused, every string and list has a size limit. OpenAPI is generated from these."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from server.web.strict import MAX_YEAR as MAX_YEAR
from server.web.strict import MIN_YEAR as MIN_YEAR
from server.web.strict import Strict as Strict
from server.web.strict import in_range as in_range

Username = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
Password = Annotated[str, Meta(min_length=1, max_length=256)]
#: A name someone types that others read (a person, an office, a group, a place). ``x-name``
#: in the OpenAPI document is also what makes ``Strict`` clean it, so the two cannot differ.
Name = Annotated[str, Meta(min_length=1, max_length=200, extra_json_schema={
    "x-name": True,
    "description": "A name shown to others: stored in Unicode NFC; control characters, line separators and "
                   "bidirectional formatting characters are refused (400 invalid_name)"})]
Text = Annotated[str, Meta(min_length=1, max_length=10_000)]
Reason = Annotated[str, Meta(min_length=1, max_length=2_000)]
Id = Annotated[str, Meta(min_length=1, max_length=64)]
Code = Annotated[str, Meta(min_length=1, max_length=64)]
Locale = Literal["en", "fi", "et", "ro"]
RoleName = Literal["client", "officer", "senior_officer", "facilitator", "mentor", "partner", "interpreter",
                   "admin", "room_device", "evaluator"]
StaffRoleName = Literal["officer", "senior_officer", "facilitator", "mentor", "partner", "interpreter", "admin",
                        "room_device", "evaluator"]


class ErrorDetail(Struct, kw_only=True, omit_defaults=True):
    code: str
    message: str  # English, for API users and logs; a client words ``reason`` and ``params``
    rule_id: str | None = None
    reason: str | None = None  # a finer stable code, e.g. "scheduling.start_in_past"
    params: dict[str, str | int] | None = None
    field: str | None = None  # the request field refused, e.g. "met_at"


class ReasonOut(Struct, kw_only=True):
    """A reason as a stable code and its parameters (``server/policy/decision.py``)."""

    code: str
    params: dict[str, str | int]


class ErrorBody(Struct):
    error: ErrorDetail


# -- identity ------------------------------------------------------------------


class LoginRequest(Strict, kw_only=True):
    username: Username
    password: Password
    kind: Literal["cookie", "bearer"] | None = None


class TotpCode(Strict, kw_only=True):
    code: Code


class Me(Struct, kw_only=True):
    id: str
    username: str
    display_name: str
    role: str
    office_id: str | None
    locale: str
    csrf_token: str
    mfa_enrolled: bool
    mfa_pending: bool
    mfa_enrolment_required: bool  # staff must enrol a second factor before anything else


class SessionResponse(Struct, kw_only=True):
    user: Me
    csrf_token: str
    token: str | None
    mfa_required: bool


class TotpBegin(Struct, kw_only=True):
    secret: str
    otpauth_uri: str


class RecoveryCodes(Struct, kw_only=True):
    recovery_codes: list[str]


class EnrolRequest(Strict, kw_only=True):
    code: Code
    password: Password


class EnrolResponse(Struct, kw_only=True):
    username: str


# -- cases --------------------------------------------------------------------


class PersonRef(Struct, kw_only=True):
    id: str
    display_name: str


class FaceToFace(Struct, kw_only=True):
    count: int
    last_met_at: datetime | None


class RemoteStatus(Struct, kw_only=True):
    allowed: bool
    rule_id: str | None
    reason: str  # English, for API users
    coded: ReasonOut | None = None  # the same reason as a code and params, for the client's own words


class Flags(Struct, kw_only=True):
    domestic_violence: bool
    low_digital_access: bool
    interpreter_needed: bool
    language: str | None


class CaseSummary(Struct, kw_only=True):
    case_id: str
    client: PersonRef
    officer: PersonRef
    face_to_face: FaceToFace
    remote: RemoteStatus
    flags: Flags


class Caseload(Struct, kw_only=True):
    cases: list[CaseSummary]


class CreateCase(Strict, kw_only=True):
    client_username: Username
    client_display_name: Name
    officer_id: Id
    domestic_violence: bool = False
    protected_person: bool = False
    low_digital_access: bool = False
    interpreter_needed: bool = False
    language: Annotated[str, Meta(min_length=2, max_length=8)] | None = None


class CreatedCase(Struct, kw_only=True):
    case_id: str
    client_id: str
    enrolment_code: str
    enrolment_link: str


class CaseDetail(Struct, kw_only=True):
    case_id: str
    client_id: str
    officer_id: str
    office_id: str
    face_to_face: FaceToFace
    remote: RemoteStatus
    flags: Flags
    legal_hold: bool


class Meeting(Struct, kw_only=True):
    id: str
    met_at: datetime
    location: str
    officer: PersonRef


class Candidate(Struct, kw_only=True):
    id: str
    display_name: str
    role: str


class Mentoring(Struct, kw_only=True):
    assignment_id: str
    mentor: PersonRef
    ends_on: date | None


class CaseFile(CaseDetail, kw_only=True):
    """The officer's case page: the case, who is in it, and whom it could be handed or introduced to."""
    client: PersonRef
    officer: PersonRef
    meetings: list[Meeting]
    network: list[PersonRef]
    mentors: list[Mentoring]
    candidates: list[Candidate]


class RecordFaceToFace(Strict, kw_only=True):
    met_at: Annotated[datetime, Meta(tz=True)]  # a meeting time without a zone is ambiguous
    location: Name


class Created(Struct, kw_only=True):
    id: str


class Decision(Struct, kw_only=True):
    allowed: bool
    rule_id: str | None
    policy_version: int
    reasons: list[str]
    obligations: list[str]
    codes: list[ReasonOut] = []  # one for each reason, in order


class GrantException(Strict, kw_only=True):
    days: Annotated[int, Meta(ge=1, le=365)]
    reason: Reason


class ExceptionGranted(Struct, kw_only=True):
    expires_at: datetime


class AddNote(Strict, kw_only=True):
    text: Text


class Note(Struct, kw_only=True):
    id: str
    author_id: str
    created_at: datetime
    text: str


class Notes(Struct, kw_only=True):
    notes: list[Note]


class ChangeOfficer(Strict, kw_only=True):
    officer_id: Id


class AddNetworkMember(Strict, kw_only=True):
    partner_id: Id


class AssignMentor(Strict, kw_only=True):
    mentor_id: Id
    client_id: Id
    ends_on: date | None = None  # the period's last day (default: the mentoring policy's period)
    starts_on: date | None = None  # the period's first day (default: today; may lie in the past)


class MentorAssignmentOut(Struct, kw_only=True):
    id: str
    mentor_id: str
    client_id: str
    created_at: datetime
    ends_on: date | None


class MyCase(Struct, kw_only=True):
    case_id: str
    officer: dict[str, str]
    remote: RemoteStatus  # video check-ins with the officer
    low_digital_access: bool
    messaging: RemoteStatus | None = None  # may the client write to the officer now, and if not why


class Mentees(Struct, kw_only=True):
    mentees: list[PersonRef]


# -- admin --------------------------------------------------------------------


class UserRow(Struct, kw_only=True):
    id: str
    username: str
    display_name: str
    role: str
    office_id: str | None
    disabled: bool


class Users(Struct, kw_only=True):
    users: list[UserRow]


class Paging(Strict, kw_only=True):
    limit: Annotated[int, Meta(ge=1, le=500)] = 100
    offset: Annotated[int, Meta(ge=0, le=1_000_000)] = 0


class CreateStaff(Strict, kw_only=True):
    username: Username
    display_name: Name
    role: StaffRoleName
    #: Left out: the creator's own office. ``null``: no office (a cross-office administrator only).
    office_id: Id | msgspec.UnsetType | None = msgspec.UNSET
    password: Annotated[str, Meta(min_length=10, max_length=256)]
    locale: Locale = "en"


class SetDisabled(Strict, kw_only=True):
    disabled: bool


class CreateOffice(Strict, kw_only=True):
    name: Name


class Office(Struct, kw_only=True):
    id: str
    name: str


class Offices(Struct, kw_only=True):
    offices: list[Office]


class PolicyRule(Struct, kw_only=True):
    rule_id: str
    title: str
    config: dict[str, Any]
    #: field -> its allowed values, for the fields (or lists) of a fixed set (a form's choices)
    choices: dict[str, list[str]] = {}


class Policies(Struct, kw_only=True):
    version: int
    author: str | None
    reason: str | None
    created_at: datetime
    rules: list[PolicyRule]


class ChangePolicy(Strict, kw_only=True):
    config: Annotated[dict[str, Any], Meta(max_length=64)]
    reason: Reason


class PolicyVersion(Struct, kw_only=True):
    version: int
    author: str | None
    reason: str
    created_at: datetime


class PolicyHistory(Struct, kw_only=True):
    versions: list[PolicyVersion]


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


# -- retention, legal hold, data-subject requests (issue 5) --------------------------------

CategoryName = Annotated[str, Meta(min_length=1, max_length=64)]
#: category -> {"period_days": int, "action": "shred" | "anonymise"}; checked key by key by the service,
#: which names the offending key (an unknown category, a period that is not a positive integer).
CategoryChanges = Annotated[dict[CategoryName, Annotated[dict[str, Any], Meta(max_length=4)]], Meta(max_length=16)]
DataCategoryName = Literal["messages", "attachments", "checkin_records", "safe_space_answers", "call_quality",
                           "group_attendance", "case_notes", "feedback_comments", "network_records"]


class RetentionCategory(Struct, kw_only=True):
    category: str
    period_days: int
    action: str
    anonymisable: bool
    registered_tables: list[str]


class RetentionPolicy(Struct, kw_only=True):
    version: int
    author: str | None
    reason: str
    created_at: datetime
    categories: list[RetentionCategory]


class RetentionPreview(Strict, kw_only=True):
    categories: CategoryChanges = {}
    on: Annotated[datetime, Meta(tz=True)] | None = None


class RetentionChange(Strict, kw_only=True):
    categories: CategoryChanges
    reason: Reason


class RetentionReport(Struct, kw_only=True):
    on: datetime
    policy_version: int
    items: dict[str, int]
    buckets: dict[str, int]
    cases: int
    total_items: int
    total_buckets: int
    summary: str


class RetentionChanged(Struct, kw_only=True):
    version: PolicyVersion
    report: RetentionReport


class RetentionRun(Struct, kw_only=True):
    id: str
    started_at: datetime
    finished_at: datetime | None
    policy_version: int
    counts: dict[str, int]
    buckets: int


class RetentionRuns(Struct, kw_only=True):
    runs: list[RetentionRun]


class HoldReason(Strict, kw_only=True):
    reason: Reason


class ExportQuery(Strict, kw_only=True):
    format: Literal["json", "html"] = "json"


class DataRequestBody(Strict, kw_only=True):
    kind: Literal["erasure", "rectification"]
    categories: Annotated[list[DataCategoryName], Meta(max_length=8)] = []
    details: Text


class DataRequest(Struct, kw_only=True):
    id: str
    kind: str
    case_id: str
    categories: list[str]
    details: str
    status: str
    created_at: datetime
    decided_at: datetime | None
    decision_reason: str | None


class DataRequests(Struct, kw_only=True):
    requests: list[DataRequest]


class DataRequestDecision(Strict, kw_only=True):
    decision: Literal["grant", "refuse"]
    reason: Reason


class Decided(Struct, kw_only=True):
    status: str
