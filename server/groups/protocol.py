"""Live group-session frames on the /ws gateway (pure). docs/protocol.md documents each one.

Every frame names its ``session`` (a group session id) and is prefixed ``group.`` so it never
meets a check-in frame of the same name. Sizes are limited here, at decoding: an oversized
offer or id never reaches the session (the gateway answers ``invalid_frame``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from server.web.frames import Inbound, Outbound

#: Within the gateway's 16 KiB frames. An aiortc offer is ~1.3 KB per m-line: this holds about
#: 11 m-lines (e.g. 5 audio and 6 video slots); a 15-person session's offer (21 m-lines, ~28 KB)
#: needs a larger frame limit for ``group.join`` (the SFU itself takes 32 KiB).
MAX_OFFER = 32 * 1024  # the SFU's own limit on an offer (Sfu(max_offer_bytes=...))

SessionId = Annotated[str, Meta(min_length=1, max_length=64)]
ParticipantId = Annotated[str, Meta(min_length=1, max_length=64)]
FrameId = Annotated[str, Meta(min_length=1, max_length=64)]
Offer = Annotated[str, Meta(min_length=1, max_length=MAX_OFFER)]


# -- client -> server -------------------------------------------------------------


class GroupJoin(Inbound, tag="group.join"):
    """Join with the offer of one peer connection to the SFU (answered once admitted)."""

    max_bytes = MAX_OFFER + 1024  # a full session's offer (about 22 m-lines) is larger than 16 KiB

    session: SessionId
    sdp: Offer
    id: FrameId | None = None


class GroupLeave(Inbound, tag="group.leave"):
    session: SessionId
    id: FrameId | None = None


class GroupAdmit(Inbound, tag="group.admit"):
    session: SessionId
    participant: ParticipantId
    id: FrameId | None = None


class GroupDeny(Inbound, tag="group.deny"):
    session: SessionId
    participant: ParticipantId
    id: FrameId | None = None


class GroupMute(Inbound, tag="group.mute"):
    """Mute one participant, or (``all``) every participant; exactly one of the two."""

    session: SessionId
    participant: ParticipantId | None = None
    all: bool = False
    id: FrameId | None = None


class GroupAllowUnmute(Inbound, tag="group.allow_unmute"):
    """Let one participant (or, without ``participant``, everyone) unmute themselves again."""

    session: SessionId
    participant: ParticipantId | None = None
    id: FrameId | None = None


class GroupRemove(Inbound, tag="group.remove"):
    session: SessionId
    participant: ParticipantId
    id: FrameId | None = None


class GroupLock(Inbound, tag="group.lock"):
    session: SessionId
    locked: bool = True
    id: FrameId | None = None


class GroupUnmute(Inbound, tag="group.unmute"):
    """Switch one's own microphone back on (refused while muted by a facilitator)."""

    session: SessionId
    id: FrameId | None = None


class GroupHand(Inbound, tag="group.hand"):
    session: SessionId
    raised: bool = True
    id: FrameId | None = None


class GroupCameraStop(Inbound, tag="group.camera_stop"):
    """Stop one participant's video at everyone (they may start it again)."""

    session: SessionId
    participant: ParticipantId
    id: FrameId | None = None


class GroupSpotlight(Inbound, tag="group.spotlight"):
    """Everyone's large view shows this participant (None: the active speaker again)."""

    session: SessionId
    participant: ParticipantId | None
    id: FrameId | None = None


class GroupHandLower(Inbound, tag="group.hand_lower"):
    """A facilitator lowers someone's raised hand."""

    session: SessionId
    participant: ParticipantId
    id: FrameId | None = None


RoomName = Annotated[str, Meta(min_length=1, max_length=60)]


class BreakoutRoom(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: RoomName
    participants: Annotated[tuple[ParticipantId, ...], Meta(max_length=16)] = ()


class GroupBreakouts(Inbound, tag="group.breakouts"):
    """Open named breakout rooms, pre-assigned, for ``minutes``; the unassigned stay in main."""

    session: SessionId
    rooms: Annotated[tuple[BreakoutRoom, ...], Meta(min_length=1, max_length=8)]
    minutes: Annotated[float, Meta(gt=0, le=240)]
    id: FrameId | None = None


class GroupMove(Inbound, tag="group.move"):
    """Move one participant to a breakout room (or ``main``)."""

    session: SessionId
    participant: ParticipantId
    room: RoomName
    id: FrameId | None = None


class GroupReturnAll(Inbound, tag="group.return_all"):
    session: SessionId
    id: FrameId | None = None


class GroupVisit(Inbound, tag="group.visit"):
    """The facilitator sending it goes into a breakout room (or back to ``main``)."""

    session: SessionId
    room: RoomName
    id: FrameId | None = None


class GroupEnd(Inbound, tag="group.end"):
    """End the session for everyone."""

    session: SessionId
    id: FrameId | None = None


INBOUND: tuple[type[Inbound], ...] = (GroupJoin, GroupLeave, GroupAdmit, GroupDeny, GroupMute, GroupAllowUnmute,
                                      GroupRemove, GroupLock, GroupUnmute, GroupHand, GroupCameraStop,
                                      GroupSpotlight, GroupHandLower, GroupBreakouts, GroupMove, GroupReturnAll,
                                      GroupVisit, GroupEnd)
CONTROL: tuple[type[Inbound], ...] = (GroupAdmit, GroupDeny, GroupMute, GroupAllowUnmute, GroupRemove, GroupLock,
                                      GroupCameraStop, GroupSpotlight, GroupHandLower, GroupBreakouts, GroupMove,
                                      GroupReturnAll, GroupVisit, GroupEnd)


# -- server -> client -------------------------------------------------------------


class GroupJoined(Outbound, tag="group.joined"):
    session: str
    participant: str
    state: Literal["waiting", "present"]
    role: str
    ref: str | None = None


class GroupAnswer(Outbound, tag="group.answer"):
    """The SFU's answer to the join's offer, sent once the person is in the session."""

    session: str
    participant: str
    sdp: str


class Seat(msgspec.Struct, frozen=True, kw_only=True):
    participant: str
    user_id: str
    display_name: str
    role: str
    state: str
    audio: bool
    video: bool
    muted: bool  # muted by a facilitator: may unmute only once allowed
    room: str


class GroupState(Outbound, tag="group.state"):
    """The session as everyone in it sees it; facilitators also get the lobby."""

    session: str
    state: str
    rooms: str
    participants: tuple[Seat, ...]
    hands: tuple[str, ...]
    spotlight: str | None = None
    breakouts: tuple[str, ...] = ()
    breakouts_end_at: datetime | None = None  # when the breakout timer returns everyone
    lobby: tuple[Seat, ...] | None = None


class GroupSlots(Outbound, tag="group.slots"):
    """Whose media each of the receiver's m-lines (by mid) carries now (None: nobody)."""

    session: str
    slots: dict[str, str | None]


class GroupNotice(Outbound, tag="group.notice"):
    """Something that happened to the receiver: admitted, denied, muted, unmute_allowed,
    camera_stopped, removed, left, ended."""

    session: str
    kind: str
    by: str | None = None
