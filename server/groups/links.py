"""One-time join links for a group session's participants (issue 14), as check-ins have them
(server/checkins/service.py): whoever runs the session makes a participant's link; the code in
it, spent once, opens a session for that participant that reaches this group session only
(``Session.group_session_id``: the routes flagged ``group_session`` and, on /ws, pings and this
session's group frames). A code is stored as its sha-256, void after the session's join window,
and throttled like a login per (session, address) and per address, not per session, or
strangers could keep its participants out.
"""

from __future__ import annotations

from datetime import datetime

from server.audit import store as audit
from server.clock import Clock
from server.errors import Conflict, NotFound, PolicyRefused, Unauthenticated
from server.groups import session_store as store
from server.groups.model import CohortRole
from server.groups.sessions import GroupSessionService
from server.identity import store as identity_store
from server.identity.model import Actor
from server.identity.service import IdentityService, LoginResult
from server.ids import new_token, token_digest
from server.scheduling.model import Status
from server.store.tx import Store


class GroupLinkService:
    def __init__(self, store_: Store, clock: Clock, identity: IdentityService, sessions: GroupSessionService) -> None:
        self.store = store_
        self.clock = clock
        self.identity = identity
        self.sessions = sessions

    async def issue_link(self, by: Actor, session_id: str, user_id: str) -> tuple[str, datetime]:
        """A one-time code for ``user_id``'s link to this session; it expires when the join window closes."""
        code = new_token(24)
        now = self.clock.now()
        async with self.store.write("group_session.link") as conn:
            row, cohort = await self.sessions.session_of(conn, by, session_id)
            if not await self.sessions.runs(conn, by, row, cohort):
                raise PolicyRefused("Only those who run the session make its join links (rule scope)",
                                    rule_id="scope", reason="scope.group_managers")
            member = cohort.member(user_id)
            if member is None or member.role != CohortRole.PARTICIPANT.value:
                raise NotFound("No such participant")
            closes_at = self.sessions.entry(row).closes_at
            if row.status != Status.SCHEDULED or closes_at <= now:
                raise Conflict("This session can no longer be joined", reason="group_session.closed")
            await store.insert_code(conn, code_hash=token_digest(code), session_id=session_id, user_id=user_id,
                                    created_by=by.user_id, created_at=now, expires_at=closes_at)
            await audit.append(conn, at=now, actor_id=by.user_id, action="group_session.link",
                               target_type="group_session", target_id=session_id, case_id=member.case_id,
                               details={"user_id": user_id})
        return code, closes_at

    async def code_session(self, session_id: str, code: str, *, kind: str, address: str) -> tuple[LoginResult, str]:
        """Spend a link's code for a session limited to this group session; with the session's
        group (cohort) id, whose agreement the participant may have to accept before joining."""
        key = f"group_session:{session_id}"
        self.identity.throttle(key, address, account_wide=False)
        now = self.clock.now()
        try:
            async with self.store.write("group_session.code_session") as conn:
                used = await store.use_code(conn, session_id, token_digest(code), now)
                user = await identity_store.user_by_id(conn, used.user_id) if used is not None else None
                row = await store.session(conn, session_id)
                if used is None or user is None or user.disabled or row is None or row.status != Status.SCHEDULED:
                    raise Unauthenticated("This link's code is not valid: it was used, has expired or is wrong",
                                          reason="group_session.bad_code")
                actor = identity_store.actor_from_row(user)
                result = await self.identity.insert_session(conn, actor, kind=kind, address=address,
                                                            expires_at=used.expires_at, group_session_id=session_id)
                await audit.append(conn, at=now, actor_id=actor.user_id, action="group_session.code_used",
                                   target_type="group_session", target_id=session_id, details=None)
        except Unauthenticated:
            self.identity.limiter.failed(key, address, self.clock.monotonic(), account_wide=False)
            raise
        self.identity.limiter.succeeded(key, address)
        return result, str(row.cohort_id)
