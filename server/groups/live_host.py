"""What a live session hosted by the group session machine needs from its owner (the seam that lets
other features host a live session on the same machine, room and SFU without forking them).

``GroupLive`` (web/ws_group.py) asks the host that owns a session id who someone is in it, how
participants name one another, the policy's limits, and where to keep the session's evidence.
A group programme session's host is ``GroupHost``; a case-network meeting's is
``networks/live.py``.
"""

from __future__ import annotations

from typing import Protocol

from server.checkins.outcomes import Sample
from server.groups.attendance import AttendanceService
from server.groups.join_policy import LiveLimits, Present
from server.groups.session_values import JoinFacts, Role
from server.groups.sessions import GroupSessionService
from server.identity.model import Actor


class LiveHost(Protocol):
    def owns(self, session_id: str) -> bool:
        """Is this live session id one of this host's?"""
        ...

    async def join_context(self, actor: Actor, session_id: str, present: Present) -> tuple[Role, JoinFacts, bool]:
        """Who ``actor`` is in the session, the facts the session decides on, and auto-admit;
        raises the refusal (naming its rule) of anyone who may not join."""
        ...

    async def member_naming(self, session_id: str) -> str: ...

    async def seats(self, session_id: str) -> int | None:
        """How many people the session's media is reserved for (None: a full group session's)."""
        ...

    async def record_home_node(self, session_id: str, node_id: str) -> None: ...

    def live_limits(self) -> LiveLimits: ...

    async def record(self, session_id: str, user_id: str, kind: str, *, detail: str | None = None,
                     sample: Sample | None = None) -> bool:
        """Keep one piece of evidence from the live session (attendance, connection quality)."""
        ...


class GroupHost:
    """A group programme session: the cohort decides, the register keeps the evidence."""

    def __init__(self, sessions: GroupSessionService, attendance: AttendanceService) -> None:
        self.sessions = sessions
        self.attendance = attendance

    def owns(self, session_id: str) -> bool:
        return True  # the default host: every id no other host claims

    async def join_context(self, actor: Actor, session_id: str, present: Present) -> tuple[Role, JoinFacts, bool]:
        return await self.sessions.join_context(actor, session_id, present)

    async def member_naming(self, session_id: str) -> str:
        return await self.sessions.member_naming(session_id)

    async def seats(self, session_id: str) -> int | None:
        return None  # a group session reserves its full size (15 participants and a facilitator)

    async def record_home_node(self, session_id: str, node_id: str) -> None:
        await self.sessions.record_home_node(session_id, node_id)

    def live_limits(self) -> LiveLimits:
        return self.sessions.live_limits()

    async def record(self, session_id: str, user_id: str, kind: str, *, detail: str | None = None,
                     sample: Sample | None = None) -> bool:
        return await self.attendance.record(session_id, user_id, kind, detail=detail, sample=sample)
