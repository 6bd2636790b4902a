"""WebSocket frames (pure). Every frame is a JSON object with a ``type``.

Inbound frames are decoded strictly against a tagged union: unknown types, unknown
fields, wrong types and oversized frames are answered with an ``error`` frame and
change nothing. Features add their frame types to ``INBOUND`` through
``FrameCodec(extra=...)``; docs/protocol.md documents every frame.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta, Struct


class Inbound(Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    #: A frame type that must carry more than the gateway's frame limit says how much (a group
    #: session's SDP offer); every other frame keeps the gateway's limit.
    max_bytes: ClassVar[int | None] = None


class Hello(Inbound, tag="hello"):
    """First frame of a connection: protocol version and, on resume, last seq per conversation."""

    version: Annotated[int, Meta(ge=1, le=1)] = 1
    resume: Annotated[dict[Annotated[str, Meta(max_length=64)], Annotated[int, Meta(ge=0)]], Meta(max_length=1000)] = {}


class Ping(Inbound, tag="ping"):
    id: Annotated[str, Meta(max_length=64)] | None = None


class Outbound(Struct, tag_field="type", kw_only=True, omit_defaults=True):
    pass


class Welcome(Outbound, tag="welcome"):
    user_id: str
    role: str
    heartbeat_s: float
    max_frame_bytes: int


class Pong(Outbound, tag="pong"):
    id: str | None = None


class Error(Outbound, tag="error"):
    code: str
    message: str
    rule_id: str | None = None
    ref: str | None = None  # the id of the frame this answers, when it had one
    reason: str | None = None  # the finer code a client words in its language (server/errors.py)
    params: dict[str, str | int] | None = None


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FrameCodec:
    def __init__(self, extra: tuple[type[Inbound], ...] = (), *, max_frame_bytes: int = 16 * 1024) -> None:
        self.types: tuple[type[Inbound], ...] = (Hello, Ping, *extra)
        self.max_frame_bytes = max_frame_bytes
        #: What the socket accepts at all: the largest limit of any frame type.
        self.hard_limit = max([max_frame_bytes, *(t.max_bytes or 0 for t in self.types)])
        self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
            Annotated[self._union(), Meta()] if len(self.types) > 1 else self.types[0]
        )
        self._encoder = msgspec.json.Encoder()

    def _union(self) -> Any:
        union: Any = self.types[0]
        for t in self.types[1:]:
            union = union | t
        return union

    def decode(self, data: str | bytes) -> Inbound:
        size = len(data.encode() if isinstance(data, str) else data)
        if size > self.hard_limit:
            raise FrameError("frame_too_large", f"Frames are limited to {self.max_frame_bytes} bytes")
        try:
            frame: Inbound = self._decoder.decode(data)
        except msgspec.ValidationError as err:
            raise FrameError("invalid_frame", str(err)) from None
        except msgspec.DecodeError as err:
            raise FrameError("malformed_frame", str(err)) from None
        limit = frame.max_bytes or self.max_frame_bytes
        if size > limit:
            raise FrameError("frame_too_large", f"{type(frame).__name__} frames are limited to {limit} bytes")
        return frame

    def encode(self, frame: Outbound) -> bytes:
        return self._encoder.encode(frame)


# -- messaging ------------------------------------------------------------------

ClientId = Annotated[str, Meta(min_length=1, max_length=64)]
ConversationId = Annotated[str, Meta(min_length=1, max_length=64)]


class Send(Inbound, tag="send"):
    """Store a message; answered by ``ack`` (or ``error`` with ``ref`` = id). Retries with the
    same id are acknowledged again and never stored twice."""

    id: ClientId
    conversation_id: ConversationId
    body: Annotated[str, Meta(min_length=1, max_length=4000)]
    kind: Literal["text", "appointment_notice"] = "text"


class Receipt(Inbound, tag="receipt"):
    conversation_id: ConversationId
    seq: Annotated[int, Meta(ge=1)]
    status: Literal["delivered", "read"]


class Ack(Outbound, tag="ack"):
    id: str
    conversation_id: str
    seq: int
    sent_at: datetime


class Resync(Outbound, tag="resync"):
    """More was missed than a resume replays: fetch through REST from ``after_seq``."""

    conversation_id: str
    after_seq: int
