"""Who may join a case-network meeting by video, and the safe-space check before it (issue 16,
TUKO stage 2: "a network meeting is scheduled ... joined by video through Tandem's own rooms").

Rule ``network_meeting_video``, named in every refusal (with the underlying reason):

- the meeting is one of the current, open process's meetings and is held by video
  (``network_meeting_video.closed``, ``.in_person``);
- the case leader (the officer, or a senior of the office the scope policy lets act on the
  case) runs it; a member of the network takes part while their access lasts
  (``.access_ended``: past their end date, or the process closed); the client only when the
  network includes them and the victim-protection rule lets them in (``.victim_protection``);
  anyone the ``networks`` rule refuses is refused with its reason
  (``network_meeting_video.network_member_only``, ...). Someone with no relation to the case
  who was never in its network is answered as for a case that does not exist (issue 12);
- the live session is joined only inside the meeting's join window (``.not_open``, ``.ended``:
  the scheduling windows of check-ins);
- everyone has passed the safe-space check for this meeting first (CEP 2024 §5; the client
  the client's questions, staff and partners the staff questions, then "nobody outside the
  meeting sees or hears it"). A pass holds for the whole meeting.

The live session is a group session hosted by the same machine, room and SFU
(``networks/live.py``): the case leader is its facilitator, partners are observers (they see
and are seen, and control nothing), the client a participant admitted by the leader. Every
read is audited: the questions, each answer, and each join.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.checkins.safe_space import Result, Side, evaluate, side_of
from server.clock import Clock
from server.crypto.keyring import Keyring
from server.errors import Conflict, NotFound, PolicyRefused
from server.groups.join_policy import Present
from server.groups.session_values import JoinFacts, Role
from server.identity.model import Actor
from server.ids import new_id
from server.networks import meeting_store
from server.networks.model import Meeting, Stage
from server.networks.service import Loaded, NetworkService
from server.policy.facts import CaseFacts
from server.policy.rules.networks import victim_protection
from server.policy.rules.safe_space import group_questions_for
from server.policy.schema import Question, SafeSpaceConfig
from server.scheduling.model import WindowSettings
from server.store.tx import Store

RULE = "network_meeting_video"
PREFIX = "netmeet-"  # a network meeting's live session id: the prefix and the meeting's id
CATEGORY = "safe_space_answers"
TABLE = "network_meeting_safe_space"


def live_id(meeting_id: str) -> str:
    return PREFIX + meeting_id


def meeting_of(session_id: str) -> str | None:
    """The meeting id of a live session id, or None when it is not a network meeting's."""
    return session_id[len(PREFIX):] if session_id.startswith(PREFIX) else None


def aad(row_id: str, meeting_id: str) -> bytes:
    return f"{TABLE}|{row_id}|{meeting_id}".encode()


def refused(why: str, message: str) -> PolicyRefused:
    return PolicyRefused(f"{message} (rule {RULE})", rule_id=RULE, reason=f"{RULE}.{why}")


@dataclass(frozen=True)
class Part:
    """Someone's part in a network meeting by video."""

    case_id: str
    meeting: Meeting
    role: Role  # in the live session: facilitator (the case leader), observer (a partner), participant
    side: Side
    case: CaseFacts | None  # the client's case facts, for their questions
    opens_at: datetime
    closes_at: datetime


class NetworkMeetingJoining:
    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, networks: NetworkService, *,
                 windows: WindowSettings | None = None) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.networks = networks
        self.windows = windows or WindowSettings()

    @property
    def config(self) -> SafeSpaceConfig:
        config = self.networks.policy.engine.policies.config("safe_space")
        assert isinstance(config, SafeSpaceConfig)
        return config

    async def part(self, conn: AsyncConnection, actor: Actor, case_id: str, meeting_id: str) -> Part:
        """``actor``'s part in the meeting, or the refusal naming ``network_meeting_video``."""
        try:
            loaded = await self.networks.load_for(conn, actor, case_id)
        except PolicyRefused as err:
            if err.rule_id == "scope":
                raise
            why = err.rule_id
            view = await self.networks.cases.view(conn, case_id)
            if actor.user_id == view.row.client_id and victim_protection(self.networks.policy.engine.policies.networks,
                                                                          view.facts):
                why = "victim_protection"  # the client of a protected case, not let in with a reason
            raise PolicyRefused(f"{err.message} (rule {RULE})", rule_id=RULE, reason=f"{RULE}.{why}") from err
        current = loaded.network.current
        meeting = next((m for m in current.meetings if m.id == meeting_id), None) if current else None
        if current is None or meeting is None:
            raise NotFound("No such meeting")
        if current.stage is Stage.CLOSED:
            raise refused("closed", "The network process is closed")
        if meeting.mode != "video":
            raise refused("in_person", "This network meeting is held in person")
        opens_at, closes_at = meeting.join_window(self.windows)
        if loaded.actor.leader:
            return Part(case_id, meeting, Role.FACILITATOR, "staff", None, opens_at, closes_at)
        return self._member_part(loaded, actor, meeting, opens_at, closes_at)

    def _member_part(self, loaded: Loaded, actor: Actor, meeting: Meeting, opens_at: datetime,
                     closes_at: datetime) -> Part:
        current = loaded.network.current
        member = current.member(actor.user_id) if current is not None else None
        if member is None:
            raise refused("not_member", "Only the network's members join its meetings")
        if not member.active(self.clock.now()):
            raise refused("access_ended", "Your access to this network has ended")
        case_id = loaded.view.row.id
        if member.kind == "client":
            config = self.networks.policy.engine.policies.networks
            if victim_protection(config, loaded.view.facts) and not member.safety_reason:
                raise refused("victim_protection", "The case's victim-protection flag keeps the client out of "
                                                   "the network's meetings")
            return Part(case_id, meeting, Role.PARTICIPANT, "client", loaded.view.facts, opens_at, closes_at)
        return Part(case_id, meeting, Role.OBSERVER, side_of(actor.role.value), None, opens_at, closes_at)

    # -- the safe-space check --------------------------------------------------------------

    async def questions(self, actor: Actor, case_id: str, meeting_id: str
                        ) -> tuple[Side, tuple[Question, ...], bool]:
        """The caller's side, their questions for this meeting and whether they have passed."""
        now = self.clock.now()
        async with self.store.write("network_meeting.safe_space.questions") as conn:
            part = await self.part(conn, actor, case_id, meeting_id)
            passed = await meeting_store.passed(conn, meeting_id, actor.user_id)
            await audit.append(conn, at=now, actor_id=actor.user_id, action="network.meeting.safe_space.read",
                               target_type="network_meeting", target_id=meeting_id, case_id=case_id,
                               details={"side": part.side, "passed": passed})
        return part.side, group_questions_for(self.config, part.case, part.side), passed

    async def answer(self, actor: Actor, case_id: str, meeting_id: str, answers: Mapping[str, bool], *,
                     cant_talk: bool = False) -> Result:
        now = self.clock.now()
        async with self.store.write("network_meeting.safe_space") as conn:
            part = await self.part(conn, actor, case_id, meeting_id)
            if now > part.closes_at:
                raise Conflict("The meeting has ended", reason=f"{RULE}.ended")
            result = evaluate(group_questions_for(self.config, part.case, part.side), answers, cant_talk=cant_talk)
            row_id = new_id()
            sealed_in = case_id if part.side == "client" else None
            key_id: str | None = None
            blob: bytes | None = None
            if sealed_in is not None:
                body = {"answers": dict(answers), "verdict": result.verdict.value, "unsafe": list(result.unsafe)}
                key_id, blob = await self.keyring.encrypt(conn, case_id=sealed_in, category=CATEGORY, at=now,
                                                          plaintext=msgspec.json.encode(body),
                                                          aad=aad(row_id, meeting_id))
            await meeting_store.insert_safe_space(conn, id=row_id, meeting_id=meeting_id, user_id=actor.user_id,
                                                  case_id=sealed_in, side=part.side, passed=result.passed, at=now,
                                                  key_id=key_id, body=blob)
            await audit.append(conn, at=now, actor_id=actor.user_id, action="network.meeting.safe_space",
                               target_type="network_meeting", target_id=meeting_id, case_id=case_id,
                               details={"side": part.side, "verdict": result.verdict.value})
        return result

    # -- joining the live session ----------------------------------------------------------

    async def seats(self, meeting_id: str) -> int:
        """The people who may join the meeting's live session (who is reminded of it), and one more
        for a senior of the office who leads too: the SFU reserves that many seats, not a group's."""
        async with self.store.read("network_meeting.seats") as conn:
            row = await meeting_store.meeting(conn, meeting_id)
            invited = () if row is None else await self.networks.meeting_recipients(conn, str(row.case_id), meeting_id)
        return max(2, len(invited) + 1)

    async def join_context(self, actor: Actor, meeting_id: str, present: Present) -> tuple[Role, JoinFacts, bool]:
        """Who ``actor`` is in the meeting's live session, once every check has passed: inside the
        join window, and the safe-space check passed. The client waits in the lobby until the
        case leader is there to admit them."""
        now = self.clock.now()
        async with self.store.write("network_meeting.join") as conn:
            row = await meeting_store.meeting(conn, meeting_id)
            if row is None:
                raise NotFound("No such meeting")
            part = await self.part(conn, actor, str(row.case_id), meeting_id)
            if now < part.opens_at:
                minutes = int(self.windows.open_before.total_seconds() // 60)
                raise refused("not_open", f"The meeting can be joined from {minutes} minutes before it starts")
            if now > part.closes_at:
                raise refused("ended", "The meeting's time has passed")
            if not await meeting_store.passed(conn, meeting_id, actor.user_id):
                raise refused("safe_space", "You have not passed the safe-space check for this meeting")
            await audit.append(conn, at=now, actor_id=actor.user_id, action="network.meeting.join",
                               target_type="network_meeting", target_id=meeting_id, case_id=part.case_id,
                               details={"role": part.role.value})
        facts = JoinFacts(enrolled=True, agreement_accepted=True, facilitator_there=present.staff > 0)
        return part.role, facts, True
