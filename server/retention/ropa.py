"""Records of processing activities (GDPR art. 30; LED 2016/680 art. 24), generated
from the live policies (pure), so the document an admin downloads is always the rules
the server enforces, with their version."""

from __future__ import annotations

from datetime import datetime

from server.policy.schema import ANONYMISABLE, CATEGORIES, RetentionConfig
from server.retention.registry import holders_of

PURPOSES = {
    "messages": "Supervision contact between the client, their officer, mentor and case network",
    "attachments": "Documents and photos exchanged in supervision conversations",
    "checkin_records": "Evidence of remote check-ins held as part of the order",
    "safe_space_answers": "Answers to the safe-space questions before a video check-in",
    "call_quality": "Network and media quality of calls, to settle technical-failure disputes",
    "group_attendance": "Attendance at group programme sessions",
    "case_notes": "Officers' notes supporting supervision and risk assessment",
    "network_records": "A high-risk case's interagency network (TUKO): concerns, members' views, the common "
                       "assessment, risk-reduction plans and their tasks, conclusions",
    "feedback_comments": "The optional comment a client or a staff member leaves after a check-in or a live "
                         "group session, read for the service's evaluation",
    "audit_log": "Who read or changed client data, to show every processing was lawful (art. 5(2))",
}


def document(config: RetentionConfig, *, version: int, generated_at: datetime, controller: str = "") -> str:
    lines = [
        "# Records of processing activities (GDPR art. 30, LED art. 24)",
        "",
        f"Generated {generated_at.isoformat()} from policy version {version}."
        + (f" Controller: {controller}." if controller else ""),
        "",
        "Data subjects: people under probation supervision (clients); staff, mentors and partner-agency users "
        "as the authors of records. Recipients: the supervising officer and senior officers of the office, "
        "mentors and partner agencies only within their conversations. No transfer outside the EU/EEA. "
        "Security (art. 32): encryption at rest under per-(case, category, month) keys that are destroyed "
        "at expiry; TLS; argon2id passwords and TOTP for staff; a hash-chained audit log.",
        "",
        "| category | purpose | kept for (days after the end of each month) | at expiry | stored in |",
        "|---|---|---|---|---|",
    ]
    for category in CATEGORIES:
        rule = config.categories.of(category)
        tables = ", ".join(h.table.name for h in holders_of(category)) or (
            "audit_log" if category == "audit_log" else "(not yet collected)")
        action = rule.action + (" (may be anonymised)" if category in ANONYMISABLE else "")
        lines.append(f"| {category} | {PURPOSES[category]} | {rule.period_days} | {action} | {tables} |")
    lines += ["", "A case under legal hold is kept until the hold is lifted. Erasure and rectification requests "
              "(art. 16, 17) are recorded and decided by an administrator; see the admin's data requests list.", ""]
    return "\n".join(lines)
