"""Why a row of the audit log was written, as the person whose data it is should be told
(pure). GDPR art. 15(1)(a) gives a data subject the purposes of the processing; the client's
"my data" page shows each access with its purpose (issue 13). The purpose follows from the
audited action, so it is derived, not stored: one table here, the longest prefix wins."""

from __future__ import annotations

#: The purposes a client can be shown, each worded by the client's catalog
#: ("mydata.purpose.<purpose>").
PURPOSES = ("supervision", "checkin", "group_programme", "mentoring", "case_network", "data_request",
            "legal_hold", "retention", "account", "other")

_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("retention.hold", "legal_hold"),
    ("retention.request", "data_request"),
    ("retention", "retention"),
    ("data.export", "data_request"),
    ("request", "data_request"),
    ("checkin", "checkin"),
    ("group", "group_programme"),
    ("mentor", "mentoring"),
    ("mentees", "mentoring"),
    ("mentoring", "mentoring"),
    ("network", "case_network"),
    ("case", "supervision"),
    ("appointment", "supervision"),
    ("reminder", "supervision"),
    ("message", "supervision"),
    ("attachment", "supervision"),
    ("enrolment", "account"),
    ("user", "account"),
    ("session", "account"),
    ("totp", "account"),
    ("push", "account"),
)


def purpose_of(action: str) -> str:
    """The purpose of an audited ``action`` ("case.note.read" -> "supervision")."""
    best, length = "other", -1
    for prefix, purpose in _BY_PREFIX:
        if (action == prefix or action.startswith(prefix + ".")) and len(prefix) > length:
            best, length = purpose, len(prefix)
    return best
