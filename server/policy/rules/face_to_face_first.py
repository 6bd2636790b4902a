"""Face-to-face first: no remote supervision before the relationship is built in person.

CEP practice recommendations (2024), §5 good practices: "importance of initially
building a professional relationship prior to using remote and digital probation";
§4.5 remote supervision. The count is per supervising officer because the relationship
is with a person, not with the service: a change of officer can require a new meeting.
A senior officer may grant a time-limited exception (caller audits it); the exception
is checked here only for who grants it, its length against :func:`max_exception`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.policy.decision import Decision, Said, allow, refuse, said
from server.policy.facts import (
    GRANT_EXCEPTION,
    SEND_MESSAGE,
    STAFF_ROLES,
    PolicyRequest,
)
from server.policy.schema import FaceToFaceFirstConfig

RULE_ID = "face_to_face_first"


def max_exception(config: FaceToFaceFirstConfig) -> timedelta:
    """The longest exception a senior officer may grant."""
    return timedelta(days=config.max_exception_days)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _grant(config: FaceToFaceFirstConfig, request: PolicyRequest, version: int) -> Decision:
    case, actor = request.case, request.actor
    if (
        case is None
        or actor.role != "senior_officer"
        or request.relation != "office_senior"
        or actor.office_id != case.office_id
    ):
        # A supervising officer cannot waive their own requirement, even a senior one:
        # the exception needs a second pair of eyes.
        return refuse(
            RULE_ID,
            version,
            said("exception_needs_senior",
                 "Only a senior officer of the client's office, who is not the supervising "
                 "officer, may grant a face-to-face exception"),
        )
    max_days = config.max_exception_days
    return allow(
        RULE_ID,
        version,
        [said("exception_may_be_granted", f"A senior officer may grant an exception of up to {max_days} days",
              max_days=max_days)],
    )


def _shortfall(config: FaceToFaceFirstConfig, counted: int, total: int, ended: datetime | None) -> Said:
    extra: dict[str, str | int] = {}
    tail = ""
    if ended is not None:
        extra["exception_ended"] = _iso(ended)
        tail = f"; the senior-officer exception ended {_utc(ended)}"
    if counted == 0 and config.require_current_officer and total > 0:
        return said("new_officer_needs_meeting",
                    "No face-to-face meeting with the current supervising officer is recorded "
                    "yet; a change of officer needs a new one" + tail, **extra)
    if counted == 0:
        return said("none_recorded", "No face-to-face meeting with this client is recorded yet" + tail, **extra)
    verb = "is" if counted == 1 else "are"
    return said(
        "too_few",
        f"Only {counted} of the {config.min_meetings} required face-to-face meetings with this client {verb} recorded"
        + tail,
        count=counted, required=config.min_meetings, **extra)


def evaluate(config: FaceToFaceFirstConfig, request: PolicyRequest, version: int) -> Decision | None:
    if request.action == GRANT_EXCEPTION:
        return _grant(config, request, version)
    if request.action not in config.gated_actions:
        return None
    if request.action == SEND_MESSAGE and request.message_kind in config.exempt_message_kinds:
        return None
    # Mentors, partners and interpreters have their own relationship with the client;
    # this rule is about the supervising relationship only.
    if request.actor.role not in STAFF_ROLES and request.relation != "client_self":
        return None
    case = request.case
    if case is None:
        if request.action == SEND_MESSAGE:
            return None  # not a case conversation
        return refuse(RULE_ID, version, said("no_case", "Remote supervision needs a case to check"))
    counted = case.face_to_face_with_current_officer if config.require_current_officer else case.face_to_face_total
    if counted >= config.min_meetings:
        plural = "" if counted == 1 else "s"
        needed = config.min_meetings
        sentence = f"{counted} face-to-face meeting{plural} recorded, {needed} required"
        return allow(RULE_ID, version, [said("met", sentence, count=counted, required=needed)])
    until = case.exception_until
    if until is not None and until > request.now:
        end = _utc(until)
        return allow(
            RULE_ID,
            version,
            [said("exception_until", f"A senior-officer exception allows remote supervision until {end}",
                  until=_iso(until))],
        )
    return refuse(RULE_ID, version, _shortfall(config, counted, case.face_to_face_total, until))
