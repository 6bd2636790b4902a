"""The one error tree of Tandem.

    TandemError                      code            status
    ├── BadRequest                   invalid_request 400/422 (malformed JSON, wrong types, unknown fields)
    │   ├── UnsupportedMediaType     unsupported_media_type 415
    │   └── PayloadTooLarge          payload_too_large 413
    ├── Unauthenticated              unauthenticated 401
    │   ├── InvalidCredentials       invalid_credentials 401
    │   └── MfaRequired              mfa_required 401
    ├── Forbidden                    forbidden 403
    │   ├── PolicyRefused            policy_refused 403 (always carries rule_id)
    │   ├── CsrfFailed               csrf_failed 403
    │   └── MfaEnrolmentRequired     mfa_enrolment_required 403
    ├── NotFound                     not_found 404
    │   └── OutOfScope               not_found 404 (exists, but not for this caller: answered as absent)
    ├── Conflict                     conflict 409
    ├── RateLimited                  rate_limited 429 (carries retry_after seconds)
    └── Unavailable                  unavailable 503 (a backing service is down)

    Check-ins and signalling (issue 4):
    Conflict ├── IllegalTransition   illegal_transition 409 (a lifecycle step not allowed in the state)
             ├── OutsideWindow       outside_window 409 (before opens_at or after closes_at)
             └── RoomFull            room_full 409
    Forbidden├── NotInRoom           not_in_room 403 (a frame for a room you have not joined)
             ├── NotAdmitted         not_admitted 403 (SDP/candidates from or to someone in the lobby)
             └── NotHost             not_host 403 (admit/end by a non-host)
    BadRequest── LimitExceeded       limit_exceeded 422 (candidate budget, SDP size)

    Mentoring (issue 12):
    Conflict ├── AlreadyAssigned     already_assigned 409 (the mentor already mentors this client)
             └── ConversationClosed  conversation_closed 409 (a send to a conversation whose mentoring ended)
    Group sessions (issue 14):
    Forbidden├── NotFacilitator      not_facilitator 403 (a control frame from someone who does not run the session)
             ├── JoinRefused         join_refused 403 (carries rule_id and the refusal: not_enrolled,
             │                                         cohort_full, agreement_not_accepted, removed, locked)
             └── UnmuteNotAllowed    unmute_not_allowed 403 (muted by the facilitator, unmuting not yet allowed)
    Input the server refuses by value (issue 12):
    BadRequest├── DateOutOfRange     date_out_of_range 400 (a date outside the years the server handles)
              └── InvalidName        invalid_name 400 (a name with control or bidirectional-formatting characters)

    The group SFU (issue 14):
    Unavailable── SfuCapacity        sfu_capacity 503 (the media node is full: a new session is refused,
                                     the running ones keep what they reserved)

Client-facing errors carry a stable ``code``, an HTTP ``status`` and a human
``message``; most also carry a ``reason``, a finer stable code ("scheduling.start_in_past",
"face_to_face_first.none_recorded"), with ``params`` (strings and integers) and, for a form
field, the ``field`` it names, so that a client says what went wrong in the language of the
person reading it, not in the server's English (issue 13). The English ``message`` stays
for API users and logs. Foreign exceptions (database, Redis, aiortc) are translated at the edge;
anything else becomes ``internal_error`` 500 without detail.
"""

from __future__ import annotations

from collections.abc import Mapping


class TandemError(Exception):
    code = "internal_error"
    status = 500

    def __init__(
        self,
        message: str,
        *,
        rule_id: str | None = None,
        reason: str | None = None,
        params: Mapping[str, str | int] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.rule_id = rule_id
        self.reason = reason
        self.params: dict[str, str | int] = dict(params or {})
        self.field = field

    def detail(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.rule_id is not None:
            body["rule_id"] = self.rule_id
        if self.reason is not None:
            body["reason"] = self.reason
            body["params"] = self.params
        if self.field is not None:
            body["field"] = self.field
        return body

    def to_json(self) -> dict[str, object]:
        return {"error": self.detail()}


class BadRequest(TandemError):
    code = "invalid_request"
    status = 422


class MalformedJson(BadRequest):
    status = 400


class UnsupportedMediaType(BadRequest):
    code = "unsupported_media_type"
    status = 415


class PayloadTooLarge(BadRequest):
    code = "payload_too_large"
    status = 413


class Unauthenticated(TandemError):
    code = "unauthenticated"
    status = 401


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"


class MfaRequired(Unauthenticated):
    code = "mfa_required"


class Forbidden(TandemError):
    code = "forbidden"
    status = 403


class PolicyRefused(Forbidden):
    code = "policy_refused"

    def __init__(
        self,
        message: str,
        *,
        rule_id: str,
        reasons: tuple[str, ...] = (),
        reason: str,
        params: Mapping[str, str | int] | None = None,
    ) -> None:
        super().__init__(message, rule_id=rule_id, reason=reason, params=params)
        self.reasons = reasons


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class MfaEnrolmentRequired(Forbidden):
    code = "mfa_enrolment_required"


class NotFound(TandemError):
    code = "not_found"
    status = 404


class OutOfScope(NotFound):
    """A resource the caller has no part in, answered exactly as one that does not exist
    (same status, code and message, no rule id), so its id cannot be probed (issue 12).
    Raise it with the route's own not-found message; the edge counts it as a refusal by
    ``refused_by``."""

    refused_by = "scope"


class Conflict(TandemError):
    code = "conflict"
    status = 409


class RateLimited(TandemError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, reason="rate_limited", params={"seconds": int(retry_after) + 1})
        self.retry_after = retry_after


class Unavailable(TandemError):
    code = "unavailable"
    status = 503


# -- check-ins and signalling (issue 4) ------------------------------------------


class IllegalTransition(Conflict):
    code = "illegal_transition"


class OutsideWindow(Conflict):
    code = "outside_window"


class RoomFull(Conflict):
    code = "room_full"


class NotInRoom(Forbidden):
    code = "not_in_room"


class NotAdmitted(Forbidden):
    code = "not_admitted"


class NotHost(Forbidden):
    code = "not_host"


class LimitExceeded(BadRequest):
    code = "limit_exceeded"


# -- mentoring (issue 12) --------------------------------------------------------


class AlreadyAssigned(Conflict):
    code = "already_assigned"


class ConversationClosed(Conflict):
    code = "conversation_closed"


# -- input refused by value (issue 12) ---------------------------------------------


class DateOutOfRange(BadRequest):
    code = "date_out_of_range"
    status = 400


class InvalidName(BadRequest):
    code = "invalid_name"
    status = 400


# -- the group SFU (issue 14) ------------------------------------------------------


class SfuCapacity(Unavailable):
    """The media node cannot take this session without degrading the ones it runs."""

    code = "sfu_capacity"
# -- group sessions (issue 14) -----------------------------------------------------


class NotFacilitator(Forbidden):
    code = "not_facilitator"


class JoinRefused(Forbidden):
    """A join the session refuses; ``refusal`` says which condition, ``rule_id`` which rule."""

    code = "join_refused"

    def __init__(self, message: str, *, rule_id: str, refusal: str, reason: str | None = None,
                 params: Mapping[str, str | int] | None = None) -> None:
        super().__init__(message, rule_id=rule_id, reason=reason, params=params)
        self.refusal = refusal

    def to_json(self) -> dict[str, object]:
        body = super().to_json()
        error = body["error"]
        assert isinstance(error, dict)
        error["refusal"] = self.refusal
        return body


class UnmuteNotAllowed(Forbidden):
    code = "unmute_not_allowed"
