"""The safe-space check before a live group session, kept and enforced by the server (issue 14).

CEP practice recommendations (2024), §5 good practices: a safe space for the client and for
staff before any video session. As for check-ins (``checkins/safe_space.py``), the questions come
from ``policies/safe_space.toml``: each side's own questions, then the group's question (nobody
outside the group sees or hears the session). ``GroupSessionService.join_context`` refuses a
participant or staff member (not the room device) whose latest check for the session did not
pass (rule ``safe_space``). A pass holds for the whole session: a rejoin after a drop is not
asked again.

A participant's answers are sealed under their case's bucket key of ``safe_space_answers``
(retention and "my data" read them as they read check-in answers). Staff have no case to seal
under: their rows keep only the side, the verdict and the time.

A client's unsafe answer or "I can't talk safely now" is recorded and refuses the join; it
raises no staff alert, because staff alerts are tied to a check-in (``staff_alerts.checkin_id``).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from server.audit import store as audit
from server.checkins.safe_space import Result, Side, evaluate, side_of
from server.clock import Clock
from server.crypto.keyring import Keyring
from server.errors import Conflict, OutOfScope
from server.groups import safe_space_store as store
from server.groups.session_values import Role
from server.groups.sessions import GroupSessionService
from server.identity.model import Actor
from server.ids import new_id
from server.policy.rules.safe_space import group_questions_for
from server.policy.schema import Question, SafeSpaceConfig
from server.scheduling.model import Status
from server.store.tx import Store

CATEGORY = "safe_space_answers"
TABLE = "group_safe_space"


def aad(row_id: str, session_id: str) -> bytes:
    return f"{TABLE}|{row_id}|{session_id}".encode()


class GroupSafeSpace:
    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, sessions: GroupSessionService) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.sessions = sessions

    @property
    def config(self) -> SafeSpaceConfig:
        config = self.sessions.policy.engine.policies.config("safe_space")
        assert isinstance(config, SafeSpaceConfig)
        return config

    async def questions(self, actor: Actor, session_id: str) -> tuple[Side, tuple[Question, ...], bool]:
        """The caller's side, their questions for this session and whether they have passed."""
        async with self.store.read("group_session.safe_space.questions") as conn:
            _, _, role, member, _ = await self.sessions.part_in(conn, actor, session_id)
            self._require_part(role, member)
            case = (await self.sessions.cases.view(conn, member.case_id)).facts if member and member.case_id else None
            side = side_of(actor.role.value)
            passed = await store.passed(conn, session_id, actor.user_id)
        return side, group_questions_for(self.config, case, side), passed

    async def answer(self, actor: Actor, session_id: str, answers: Mapping[str, bool], *,
                     cant_talk: bool = False) -> Result:
        now = self.clock.now()
        async with self.store.write("group_session.safe_space") as conn:
            row, _, role, member, _ = await self.sessions.part_in(conn, actor, session_id)
            self._require_part(role, member)
            if row.status != Status.SCHEDULED:
                raise Conflict("The session is cancelled")
            if now > row.ends_at:
                raise Conflict("The session has ended", reason="group_session.closed")
            case_id = member.case_id if member is not None and side_of(actor.role.value) == "client" else None
            case = (await self.sessions.cases.view(conn, case_id)).facts if case_id else None
            side = side_of(actor.role.value)
            result = evaluate(group_questions_for(self.config, case, side), answers, cant_talk=cant_talk)
            row_id = new_id()
            key_id: str | None = None
            blob: bytes | None = None
            if case_id is not None:
                body = {"answers": dict(answers), "verdict": result.verdict.value, "unsafe": list(result.unsafe)}
                key_id, blob = await self.keyring.encrypt(conn, case_id=case_id, category=CATEGORY, at=now,
                                                          plaintext=msgspec.json.encode(body),
                                                          aad=aad(row_id, session_id))
            await store.insert(conn, id=row_id, session_id=session_id, user_id=actor.user_id, case_id=case_id,
                               side=side, passed=result.passed, at=now, key_id=key_id, body=blob)
            await audit.append(conn, at=now, actor_id=actor.user_id, action="group_session.safe_space",
                               target_type="group_session", target_id=session_id, case_id=case_id,
                               details={"side": side, "verdict": result.verdict.value})
        return result

    @staticmethod
    def _require_part(role: Role, member: object) -> None:
        """The room device answers nothing (it is exempt); a client who is no enrolled
        participant has no session to answer for."""
        if role is Role.ROOM_DEVICE or (role is Role.PARTICIPANT and member is None):
            raise OutOfScope("No such session")
