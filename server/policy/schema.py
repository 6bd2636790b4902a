"""The shape of every policy document, one frozen struct per rule.

Types, ranges and unknown keys are checked by msgspec when a document is converted;
checks that span several keys (an audit log kept shorter than the messages it
describes, duplicate question ids...) are each config's :meth:`problems`, run by the
loader right after conversion. A config is only ever used after both passed.

Sources cited in ``source`` fields and comments:

- CEP: Confederation of European Probation, *Practice recommendations regarding
  technologies in probation* (2024): §4.4 working from home, §4.5 remote supervision,
  §5 good practices (safe space, building the relationship before remote work),
  checklist ("where necessary provide alternatives").
- GDPR: Regulation (EU) 2016/679, art. 5(1)(c) data minimisation, 5(1)(e) storage
  limitation, 17 erasure, 25 data protection by design.
- LED: Law Enforcement Directive (EU) 2016/680, art. 4(1)(e), 5 (time limits for
  storage and review).
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

import msgspec
import msgspec.inspect as mi

#: Retention data categories, each with its own period and encryption key buckets.
CATEGORIES = (
    "messages",
    "attachments",
    "checkin_records",
    "safe_space_answers",
    "call_quality",
    "group_attendance",
    "case_notes",
    "network_records",
    "feedback_comments",
    "audit_log",
)
#: Only aggregate-friendly data may be anonymised instead of shredded: what remains
#: after anonymising a message or a case note would still identify the person.
ANONYMISABLE = ("group_attendance", "call_quality")

Text = Annotated[str, msgspec.Meta(min_length=1)]
Days = Annotated[int, msgspec.Meta(ge=1)]
QuestionId = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$")]


class Problem(NamedTuple):
    """A cross-key problem: ``key`` is dotted, relative to the rule's table."""

    key: str
    reason: str


def _duplicates(key: str, values: tuple[str, ...]) -> list[Problem]:
    seen: set[str] = set()
    found: list[Problem] = []
    for value in values:
        if value in seen:
            found.append(Problem(key, f"{value!r} is listed twice"))
        seen.add(value)
    return found


class _Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    title: Text
    #: Citation: the CEP recommendation or legal article the rule implements.
    source: Text


class FaceToFaceFirstConfig(_Config, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: bool
    min_meetings: Days
    require_current_officer: bool
    gated_actions: tuple[Literal["supervise_remotely", "send_message", "start_video", "join_group"], ...]
    exempt_message_kinds: tuple[Literal["text", "appointment_notice"], ...]
    max_exception_days: Annotated[int, msgspec.Meta(ge=1, le=365)]

    def problems(self) -> list[Problem]:
        return _duplicates("gated_actions", self.gated_actions) + _duplicates(
            "exempt_message_kinds", self.exempt_message_kinds
        )


class Question(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: QuestionId
    text: Text
    #: The answer that means "safe to go on"; any other answer ends the attempt.
    safe_answer: bool = True


Questions = Annotated[tuple[Question, ...], msgspec.Meta(min_length=1)]


class SafeSpaceConfig(_Config, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: bool
    client_questions: Questions
    staff_questions: Questions
    domestic_violence_questions: Questions
    forbid_shared_address_when_dv: bool
    #: Asked of the client on domestic-violence cases when the shared address is
    #: forbidden.
    shared_address_question: Question
    #: Asked of everyone (client and staff) before a live group session, after their own side's
    #: questions: the other participants' privacy (issue 14). Optional in stored versions older
    #: than it; the default is the wording of policies/safe_space.toml.
    group_question: Question = msgspec.field(default_factory=lambda: Question(
        id="group_only", text="Can nobody who is not in the group see or hear the session where you are?"))
    #: Answers are check-in evidence kept under this retention category.
    retention_category: Literal["safe_space_answers"] = "safe_space_answers"
    #: Staff and interpreters connect through TURN only and the server forwards none of their
    #: host or server-reflexive candidates, so a client never learns where they are.
    force_relay_for_staff: bool = False

    def problems(self) -> list[Problem]:
        ids = tuple(
            q.id
            for q in (
                *self.client_questions,
                *self.staff_questions,
                *self.domestic_violence_questions,
                self.shared_address_question,
                self.group_question,
            )
        )
        return _duplicates("question ids", ids)


class CategoryRetention(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    period_days: Days
    action: Literal["shred", "anonymise"]


class RetentionCategories(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    messages: CategoryRetention
    attachments: CategoryRetention
    checkin_records: CategoryRetention
    safe_space_answers: CategoryRetention
    call_quality: CategoryRetention
    group_attendance: CategoryRetention
    case_notes: CategoryRetention
    #: A case network's records (TUKO, issue 16): concerns, views, the assessment, plans, notes, conclusions.
    network_records: CategoryRetention
    #: The optional comment after a check-in (evaluation, issue 16): kept 30 days.
    feedback_comments: CategoryRetention
    audit_log: CategoryRetention

    def of(self, category: str) -> CategoryRetention:
        if category not in CATEGORIES:
            raise KeyError(f"unknown retention category {category!r}")
        value: CategoryRetention = getattr(self, category)
        return value


class RetentionConfig(_Config, frozen=True, forbid_unknown_fields=True, kw_only=True):
    categories: RetentionCategories

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        for name in CATEGORIES:
            if self.categories.of(name).action == "anonymise" and name not in ANONYMISABLE:
                found.append(
                    Problem(
                        f"categories.{name}.action",
                        "only " + " and ".join(ANONYMISABLE) + " may be anonymised; anything else must be shredded",
                    )
                )
        others = [c for c in CATEGORIES if c != "audit_log"]
        longest = max(others, key=lambda c: self.categories.of(c).period_days)
        longest_days = self.categories.of(longest).period_days
        if self.categories.audit_log.period_days < longest_days:
            # The audit log must outlive what it describes, or a deletion could not
            # be shown to have been lawful (GDPR art. 5(2) accountability).
            found.append(
                Problem(
                    "categories.audit_log.period_days",
                    f"must be at least {longest_days} days, the longest period of any other category ({longest})",
                )
            )
        return found


class AlternativesConfig(_Config, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: bool
    offer_for_low_digital_access: tuple[Literal["phone", "in_person"], ...]
    audio_only_on_poor_network: bool
    technical_failure_is_not_absence: bool

    def problems(self) -> list[Problem]:
        return _duplicates("offer_for_low_digital_access", self.offer_for_low_digital_access)


class ScopeConfig(_Config, frozen=True, forbid_unknown_fields=True, kw_only=True):
    senior_officer_scope: Literal["office", "caseload"]
    #: Kept as an explicit, always-false key so the choice is visible in the policy
    #: file and an attempt to flip it is refused with a reason instead of passing
    #: unnoticed as an unknown key.
    admin_reads_message_content: bool
    #: A mentor comes from the client's office unless the deployment says otherwise
    #: (groups, participants and handovers never cross offices).
    mentor_from_other_office: bool = False

    def problems(self) -> list[Problem]:
        if self.admin_reads_message_content:
            return [
                Problem(
                    "admin_reads_message_content",
                    "must be false: administrators run the service, they do not "
                    "supervise; message content is case data (GDPR art. 5(1)(c), 25)",
                )
            ]
        return []


class GroupRulesConfig(_Config, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: bool
    max_participants: Annotated[int, msgspec.Meta(ge=2, le=100)]
    min_facilitators: Days
    hybrid_allowed: bool
    recording_allowed: bool = False
    confidentiality_agreement_required: bool
    #: Everyone online sees the active speaker large and at most this many others.
    last_n: Annotated[int, msgspec.Meta(ge=1, le=15)] = 6

    def problems(self) -> list[Problem]:
        if self.min_facilitators >= self.max_participants:
            return [
                Problem(
                    "min_facilitators",
                    f"must be below max_participants ({self.max_participants})",
                )
            ]
        return []


VictimProtectionFlag = Literal["protected_person", "domestic_violence"]


class NetworksConfig(_Config, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Case networks (TUKO, issue 16). No ``enabled`` switch: who sees a network is access
    control, as ``scope`` is."""

    #: The case flags that keep the client out of the network unless the case leader records
    #: why it is safe (victim protection).
    victim_protection_flags: Annotated[tuple[VictimProtectionFlag, ...], msgspec.Meta(min_length=1)]
    #: How far ahead a member's access may end; the case leader extends it by inviting again.
    max_access_days: Annotated[int, msgspec.Meta(ge=1, le=730)]

    def problems(self) -> list[Problem]:
        return _duplicates("victim_protection_flags", self.victim_protection_flags)


class MentoringConfig(_Config, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Mentoring periods (issue 16). No ``enabled`` switch: when a mentor's access ends is
    access control, as ``scope`` is."""

    #: The period an assignment gets when the officer names no end.
    default_period_days: Annotated[int, msgspec.Meta(ge=1, le=1095)]
    #: How far ahead a period, or an extension of it, may end.
    max_period_days: Annotated[int, msgspec.Meta(ge=1, le=1095)]
    #: How long after the end the mentor may still record the outcome.
    outcome_days: Annotated[int, msgspec.Meta(ge=0, le=365)]

    def problems(self) -> list[Problem]:
        if self.default_period_days > self.max_period_days:
            return [Problem("default_period_days", f"must not exceed max_period_days ({self.max_period_days})")]
        return []


RuleConfig = (
    FaceToFaceFirstConfig
    | SafeSpaceConfig
    | RetentionConfig
    | AlternativesConfig
    | ScopeConfig
    | GroupRulesConfig
    | NetworksConfig
    | MentoringConfig
)

RULE_IDS = (
    "face_to_face_first",
    "safe_space",
    "retention",
    "alternatives",
    "scope",
    "group_rules",
    "networks",
    "mentoring",
)
CONFIG_TYPES: dict[str, type[RuleConfig]] = {
    "face_to_face_first": FaceToFaceFirstConfig,
    "safe_space": SafeSpaceConfig,
    "retention": RetentionConfig,
    "alternatives": AlternativesConfig,
    "scope": ScopeConfig,
    "group_rules": GroupRulesConfig,
    "networks": NetworksConfig,
    "mentoring": MentoringConfig,
}


def choices(rule_id: str) -> dict[str, list[str]]:
    """The allowed values of each of a rule's top-level fields that is one of a fixed set, or
    a list of such (``senior_officer_scope``, ``gated_actions``): what a form offers."""
    found: dict[str, list[str]] = {}
    info = mi.type_info(CONFIG_TYPES[rule_id])
    assert isinstance(info, mi.StructType)
    for f in info.fields:
        kind = f.type.item_type if isinstance(f.type, mi.VarTupleType | mi.ListType) else f.type
        if isinstance(kind, mi.LiteralType):
            found[f.name] = sorted(str(v) for v in kind.values)
    return found
