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


class SessionFrame(Inbound, kw_only=True):
    """What every group frame carries: the session it is about, and an optional id that an
    answer or an error refers to (``ref``)."""

    session: SessionId
    id: FrameId | None = None


class ParticipantFrame(SessionFrame, kw_only=True):
    """A facilitator's act on one participant."""

    participant: ParticipantId


class GroupJoin(SessionFrame, tag="group.join", kw_only=True):
    """Join with the offer of one peer connection to the SFU (answered once admitted)."""

    max_bytes = MAX_OFFER + 1024  # a full session's offer (about 22 m-lines) is larger than 16 KiB

    sdp: Offer


class GroupLeave(SessionFrame, tag="group.leave", kw_only=True):
    pass


class GroupAdmit(ParticipantFrame, tag="group.admit", kw_only=True):
    pass


class GroupDeny(ParticipantFrame, tag="group.deny", kw_only=True):
    pass


class GroupMute(SessionFrame, tag="group.mute", kw_only=True):
    """Mute one participant, or (``all``) every participant; exactly one of the two."""

    participant: ParticipantId | None = None
    all: bool = False


class GroupAllowUnmute(SessionFrame, tag="group.allow_unmute", kw_only=True):
    """Let one participant (or, without ``participant``, everyone) unmute themselves again."""

    participant: ParticipantId | None = None


class GroupRemove(ParticipantFrame, tag="group.remove", kw_only=True):
    pass


class GroupMedia(SessionFrame, tag="group.media", kw_only=True):
    """Switch one's own camera (e.g. back on after a facilitator stopped it, or off for voice
    only) and/or microphone, and whether one receives video at all (``voice_only``: the SFU
    forwards no video to a weak link); what is left out stays as it is. Switching the
    microphone on is refused while a facilitator's mute stands, as ``group.unmute`` is."""

    video: bool | None = None
    audio: bool | None = None
    voice_only: bool | None = None


class GroupStats(SessionFrame, tag="group.stats", kw_only=True):
    """What one's browser measured of its connection to the SFU since its last report: the
    register's connection-quality evidence (kept at most every ``QUALITY_EVERY_S``)."""

    rtt_ms: Annotated[float, Meta(ge=0, le=60_000)]
    loss_pct: Annotated[float, Meta(ge=0, le=100)]
    bitrate_kbps: Annotated[float, Meta(ge=0, le=100_000)]


class GroupLock(SessionFrame, tag="group.lock", kw_only=True):
    locked: bool = True


class GroupUnmute(SessionFrame, tag="group.unmute", kw_only=True):
    """Switch one's own microphone back on (refused while muted by a facilitator)."""


class GroupHand(SessionFrame, tag="group.hand", kw_only=True):
    raised: bool = True


class GroupCameraStop(ParticipantFrame, tag="group.camera_stop", kw_only=True):
    """Stop one participant's video at everyone (they may start it again)."""


class GroupSpotlight(SessionFrame, tag="group.spotlight", kw_only=True):
    """Everyone's large view shows this participant (None: the active speaker again)."""

    participant: ParticipantId | None


class GroupHandLower(ParticipantFrame, tag="group.hand_lower", kw_only=True):
    """A facilitator lowers someone's raised hand."""


class GroupHandsClear(SessionFrame, tag="group.hands_clear", kw_only=True):
    """A facilitator lowers every raised hand at once."""


RoomName = Annotated[str, Meta(min_length=1, max_length=60)]


class BreakoutRoom(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: RoomName
    participants: Annotated[tuple[ParticipantId, ...], Meta(max_length=16)] = ()


class GroupBreakouts(SessionFrame, tag="group.breakouts", kw_only=True):
    """Open named breakout rooms, pre-assigned, for ``minutes``; the unassigned stay in main."""

    rooms: Annotated[tuple[BreakoutRoom, ...], Meta(min_length=1, max_length=8)]
    minutes: Annotated[float, Meta(gt=0, le=240)]


class GroupMove(ParticipantFrame, tag="group.move", kw_only=True):
    """Move one participant to a breakout room (or ``main``)."""

    room: RoomName


class GroupReturnAll(SessionFrame, tag="group.return_all", kw_only=True):
    pass


class GroupVisit(SessionFrame, tag="group.visit", kw_only=True):
    """The facilitator sending it goes into a breakout room (or back to ``main``)."""

    room: RoomName


class GroupEnd(SessionFrame, tag="group.end", kw_only=True):
    """End the session for everyone."""


INBOUND: tuple[type[Inbound], ...] = (GroupJoin, GroupLeave, GroupAdmit, GroupDeny, GroupMute, GroupAllowUnmute,
                                      GroupRemove, GroupLock, GroupUnmute, GroupMedia, GroupHand, GroupCameraStop,
                                      GroupSpotlight, GroupHandLower, GroupHandsClear, GroupBreakouts, GroupMove,
                                      GroupReturnAll, GroupVisit, GroupEnd, GroupStats)
CONTROL: tuple[type[Inbound], ...] = (GroupAdmit, GroupDeny, GroupMute, GroupAllowUnmute, GroupRemove, GroupLock,
                                      GroupCameraStop, GroupSpotlight, GroupHandLower, GroupHandsClear, GroupBreakouts,
                                      GroupMove, GroupReturnAll, GroupVisit, GroupEnd)


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
