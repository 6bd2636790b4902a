""""How did this go?" after a live group session (issue 16, section 3: client feedback, and
"staff the same after each session").

Who answers: a participant who attended the session (admitted into it at least once, or marked
attended or partly attended in the confirmed register, which then decides), and the session's
staff (facilitators, co-facilitators, observers). Once each per session; never the room device,
never anyone else (rule ``scope``, reasons ``scope.group_feedback`` and
``scope.group_feedback_not_attended``), and not before the session's join window has opened.

The face is kept in clear, for the evaluation's figures (``feedback_client`` and
``feedback_staff``). The optional comment is sealed under the ``feedback_comments`` category as a
check-in's is (``evaluation/service.py``): a participant's under their case's bucket key, a staff
member's, who has no case, under the cohort's; retention clears it after 30 days, the face stays.
Whether a participant was admitted is read from their own sealed attendance evidence, opened here
for that yes or no only.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.clock import Clock
from server.crypto.keyring import Keyring, KeyShredded
from server.errors import Conflict, OutOfScope, PolicyRefused
from server.evaluation.model import checked_answer
from server.groups import session_store
from server.groups.attendance import aad as attendance_aad
from server.groups.session_values import STAFF, Role
from server.groups.sessions import GroupSessionService
from server.identity.model import Actor
from server.ids import new_id
from server.scheduling.model import Status
from server.store.schema_evaluation import group_feedback
from server.store.tx import Store

CATEGORY = "feedback_comments"
MAX_COMMENT = 1000
ATTENDED = ("attended", "partly")


def comment_aad(feedback_id: str, session_id: str) -> bytes:
    """Associated data binding a group session comment's ciphertext to its row."""
    return f"group_feedback|{feedback_id}|{session_id}".encode()


class GroupFeedback:
    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, sessions: GroupSessionService) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.sessions = sessions

    async def _attended(self, conn: AsyncConnection, session_id: str, user_id: str, case_id: str) -> bool:
        """The confirmed register's word, or (before it is confirmed) evidence of being let in."""
        line = next((r for r in await session_store.lines(conn, session_id) if r.user_id == user_id), None)
        if line is not None:
            return str(line.status) in ATTENDED
        for ev in await session_store.events(conn, session_id):
            if ev.case_id != case_id:
                continue
            try:
                body = msgspec.json.decode(await self.keyring.decrypt(
                    conn, key_id=ev.key_id, blob=ev.body, aad=attendance_aad("group_attendance_events", ev.id,
                                                                               session_id)))
            except KeyShredded:
                continue
            if body.get("user_id") == user_id and body.get("kind") == "present":
                return True
        return False

    async def give(self, actor: Actor, session_id: str, *, face: int, comment: str = "") -> str:
        comment = checked_answer(face, comment, MAX_COMMENT)
        now = self.clock.now()
        async with self.store.write("group_session.feedback") as conn:
            row, cohort, role, member, _ = await self.sessions.part_in(conn, actor, session_id)
            if role is Role.PARTICIPANT and member is None:
                raise OutOfScope("No such session")
            if role not in STAFF and role is not Role.PARTICIPANT:
                raise PolicyRefused("Feedback is for the session's participants and staff (rule scope)",
                                    rule_id="scope", reason="scope.group_feedback")
            if row.status != Status.SCHEDULED or now < self.sessions.entry(row).opens_at:
                raise Conflict("Feedback is asked for once the session has taken place",
                               reason="group_feedback.not_yet")
            case_id = member.case_id if role is Role.PARTICIPANT else None
            if case_id is not None and not await self._attended(conn, session_id, actor.user_id, case_id):
                raise PolicyRefused("Feedback is for participants who attended the session (rule scope)",
                                    rule_id="scope", reason="scope.group_feedback_not_attended")
            if await _answer_of(conn, session_id, actor.user_id) is not None:
                raise Conflict("You have already answered for this session", reason="group_feedback.answered")
            row_id = new_id()
            key_id, blob = None, None
            if comment:
                key_id, blob = await self.keyring.encrypt(conn, case_id=case_id or str(row.cohort_id),
                                                          category=CATEGORY, at=now, plaintext=comment.encode(),
                                                          aad=comment_aad(row_id, session_id))
            await conn.execute(group_feedback.insert().values(
                id=row_id, session_id=session_id, cohort_id=row.cohort_id, case_id=case_id, office_id=row.office_id,
                user_id=actor.user_id, side="client" if role is Role.PARTICIPANT else "staff", face=face,
                given_at=now, key_id=key_id, comment=blob))
            await audit.append(conn, at=now, actor_id=actor.user_id, action="group_session.feedback",
                               target_type="group_session", target_id=session_id, case_id=case_id,
                               details={"face": face, "comment": bool(comment), "cohort": cohort.ref.cohort_id})
        return row_id


async def _answer_of(conn: AsyncConnection, session_id: str, user_id: str) -> Any:
    return (await conn.execute(select(group_feedback.c.id).where(
        group_feedback.c.session_id == session_id, group_feedback.c.user_id == user_id))).first()
