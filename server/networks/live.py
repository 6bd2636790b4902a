"""A case-network meeting by video, hosted as a live group session (issue 16, TUKO stage 2).

The meeting's live session (id ``netmeet-<meeting id>``) runs on the group session machine,
room and SFU of ``web/ws_group.py``: nothing is forked. This host answers what the shell asks:
who someone is in the meeting (``joining.py``: the case leader facilitates, partners observe,
the client is a participant the leader admits; rule ``network_meeting_video``), full names for
everyone (a network meeting is among professionals who know the case), the group policy's size
and last-N, and no register: a network meeting keeps no attendance evidence, only the audit rows
of each join. Its media reserves seats for the people who may join it (the case leader, the
members whose access lasts, the client when allowed, and one more for a senior of the office),
not a full group session's, so a meeting and a group session fit on one default node. Its media
lives on the meeting's home node, leased in ``room_homes`` like any group session's and reached
from any node (server/web/group_homes.py, docs/cluster.md); no ``home_node`` record of its own.
"""

from __future__ import annotations

from server.checkins.outcomes import Sample
from server.errors import NotFound
from server.groups.join_policy import LiveLimits, Present, live_limits
from server.groups.session_values import JoinFacts, Role
from server.identity.model import Actor
from server.messaging.model import FIRST_NAME
from server.networks.joining import NetworkMeetingJoining, meeting_of


class NetworkMeetingHost:
    def __init__(self, joining: NetworkMeetingJoining) -> None:
        self.joining = joining

    def owns(self, session_id: str) -> bool:
        return meeting_of(session_id) is not None

    async def join_context(self, actor: Actor, session_id: str, present: Present) -> tuple[Role, JoinFacts, bool]:
        meeting_id = meeting_of(session_id)
        if meeting_id is None:
            raise NotFound("No such meeting")
        return await self.joining.join_context(actor, meeting_id, present)

    async def member_naming(self, session_id: str) -> str:
        return FIRST_NAME  # only the client is a participant: they see the others' (staff) full names

    async def seats(self, session_id: str) -> int | None:
        meeting_id = meeting_of(session_id)
        return None if meeting_id is None else await self.joining.seats(meeting_id)

    async def record_home_node(self, session_id: str, node_id: str) -> None:
        return None

    def live_limits(self) -> LiveLimits:
        return live_limits(self.joining.networks.policy)

    async def record(self, session_id: str, user_id: str, kind: str, *, detail: str | None = None,
                     sample: Sample | None = None) -> bool:
        return False  # no register for a network meeting
