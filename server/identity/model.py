"""Who is acting (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    CLIENT = "client"
    OFFICER = "officer"
    SENIOR_OFFICER = "senior_officer"
    FACILITATOR = "facilitator"
    MENTOR = "mentor"
    PARTNER = "partner"
    INTERPRETER = "interpreter"
    ADMIN = "admin"
    ROOM_DEVICE = "room_device"
    #: Reads every office's evaluation figures (issue 16), never any case data.
    EVALUATOR = "evaluator"


#: Staff sign in with a second factor (TOTP) and have an idle timeout.
STAFF_ROLES = frozenset({Role.OFFICER, Role.SENIOR_OFFICER, Role.FACILITATOR, Role.ADMIN, Role.EVALUATOR})
#: Roles an admin may create directly; clients are enrolled through a case.
CREATABLE_ROLES = frozenset(Role) - {Role.CLIENT}


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    display_name: str
    role: Role
    office_id: str | None
    locale: str
    mfa_enrolled: bool
    #: An office-less admin the deployment names in TANDEM_CROSS_OFFICE_ADMINS (identity/scope.py).
    cross_office: bool = False

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


@dataclass(frozen=True)
class Session:
    token_hash: str
    user_id: str
    kind: str  # "cookie" | "bearer"
    csrf_token: str
    mfa_pending: bool
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    #: A session from a check-in link's one-time code reaches that check-in only (issue 4).
    checkin_id: str | None = None
    #: A session from a group session link's one-time code reaches that group session only (issue 14).
    group_session_id: str | None = None


@dataclass(frozen=True)
class SessionExpiry:
    """When a session ends: absolute for everyone, idle as well for staff."""

    absolute_s: int
    idle_s: int | None

    def expired(self, session: Session, now: datetime) -> bool:
        if now >= session.expires_at:
            return True
        return self.idle_s is not None and (now - session.last_seen_at).total_seconds() >= self.idle_s
