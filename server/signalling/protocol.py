"""Signalling frames on the /ws gateway (pure). docs/protocol.md documents each one.

Every frame names its ``room`` (a check-in id). Sizes are limited here, at decoding,
so an oversized SDP or candidate never reaches a room: the gateway answers
``invalid_frame`` and nothing changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from server.web.frames import Inbound, Outbound

MAX_SDP = 12_000
MAX_CANDIDATE = 1_024

RoomId = Annotated[str, Meta(min_length=1, max_length=64)]
ParticipantId = Annotated[str, Meta(min_length=1, max_length=64)]
FrameId = Annotated[str, Meta(min_length=1, max_length=64)]
Sdp = Annotated[str, Meta(min_length=1, max_length=MAX_SDP)]


# -- client -> server -------------------------------------------------------------


class Join(Inbound, tag="join"):
    room: RoomId
    id: FrameId | None = None


class Admit(Inbound, tag="admit"):
    room: RoomId
    participant: ParticipantId
    id: FrameId | None = None


class Leave(Inbound, tag="leave"):
    room: RoomId
    id: FrameId | None = None


class End(Inbound, tag="end"):
    room: RoomId
    id: FrameId | None = None


class _Description(Inbound):
    """An SDP offer or answer for one admitted peer."""

    room: RoomId
    to: ParticipantId
    sdp: Sdp
    id: FrameId | None = None


class Offer(_Description, tag="offer"):
    pass


class Answer(_Description, tag="answer"):
    pass


class Candidate(Inbound, tag="candidate"):
    room: RoomId
    to: ParticipantId
    candidate: Annotated[str, Meta(max_length=MAX_CANDIDATE)]
    sdp_mid: Annotated[str, Meta(max_length=32)] | None = None
    sdp_mline_index: Annotated[int, Meta(ge=0, le=64)] | None = None
    id: FrameId | None = None


class Media(Inbound, tag="media"):
    room: RoomId
    audio: bool
    video: bool
    id: FrameId | None = None


class Stats(Inbound, tag="stats"):
    room: RoomId
    rtt_ms: Annotated[float, Meta(ge=0, le=60_000)]
    loss_pct: Annotated[float, Meta(ge=0, le=100)]
    bitrate_kbps: Annotated[float, Meta(ge=0, le=100_000)]
    jitter_ms: Annotated[float, Meta(ge=0, le=60_000)] | None = None
    frames_decoded: Annotated[int, Meta(ge=0)] | None = None
    audio_only: bool = False


class CantTalk(Inbound, tag="cant_talk"):
    room: RoomId
    id: FrameId | None = None


INBOUND: tuple[type[Inbound], ...] = (Join, Admit, Leave, End, Offer, Answer, Candidate, Media, Stats, CantTalk)


# -- server -> client -------------------------------------------------------------


class IceServer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


class Joined(Outbound, tag="joined"):
    room: str
    participant: str
    state: Literal["waiting", "admitted"]
    ice_servers: tuple[IceServer, ...]
    ice_transport_policy: Literal["all", "relay"]
    ref: str | None = None


class Seat(msgspec.Struct, frozen=True, kw_only=True):
    participant: str
    user_id: str
    display_name: str
    role: str
    state: str


class RoomSnapshot(Outbound, tag="room"):
    room: str
    participants: tuple[Seat, ...]


class Waiting(msgspec.Struct, frozen=True, kw_only=True):
    participant: str
    user_id: str
    display_name: str
    role: str
    since: datetime


class Lobby(Outbound, tag="lobby"):
    checkin_id: str
    case_id: str
    waiting: tuple[Waiting, ...]


class Admitted(Outbound, tag="admitted"):
    room: str
    participant: str
    peers: tuple[str, ...]


class PeerJoined(Outbound, tag="peer_joined"):
    room: str
    participant: str
    user_id: str
    display_name: str
    role: str


class PeerLeft(Outbound, tag="peer_left"):
    room: str
    participant: str
    reason: Literal["left", "dropped", "gone"]


class PeerMedia(Outbound, tag="peer_media"):
    room: str
    participant: str
    audio: bool
    video: bool


class _Relayed(Outbound):
    room: str
    from_: str = msgspec.field(name="from")


class RelayedOffer(_Relayed, tag="offer"):
    sdp: str


class RelayedAnswer(_Relayed, tag="answer"):
    sdp: str


class RelayedCandidate(_Relayed, tag="candidate"):
    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


class Left(Outbound, tag="left"):
    room: str


class Ended(Outbound, tag="ended"):
    room: str
    # officer_unavailable: the officer failed their own safe-space check before letting anyone in
    reason: Literal["ended_by_host", "ended", "window_closed", "replaced", "officer_unavailable"]


class Reconnect(Outbound, tag="reconnect"):
    """The room moves to another node (its home died or is restarting): send ``join`` again, on
    this connection or a new one, within the grace period, to take your place back."""

    room: str
    reason: Literal["takeover", "drain"]


class CheckinAlert(Outbound, tag="checkin_alert"):
    checkin_id: str
    case_id: str
    kind: Literal["cant_talk_safely", "safe_space_failed"]
    at: datetime
