"""What the SFU does with RTP between receiving and sending it, without decoding (pure).

Three small machines, fed by ``server.media.sfu`` with packets and loop times:

- ``FrameAssembler`` turns one publisher's VP8 packets into whole frames and releases a frame
  the moment it is complete: its first packet (VP8 payload descriptor S=1, PID=0, RFC 7741
  section 4.2) and its marker-bit packet (RFC 3550 section 5.1; RFC 7741 section 4.1: the
  last packet of a frame) have arrived and every sequence number between them. aiortc's own
  jitter buffer waits for the *next* frame's first packet instead, one frame interval (33 ms
  at 30 fps) per hop. Frames leave in order; a frame that stays incomplete while
  ``max_pending`` newer frames wait behind it is given up, and from then on only a key frame
  is released (the caller asks the publisher for one).
- ``SlotClock`` rewrites RTP timestamps for one subscriber's slot, so that when the slot
  switches to another publisher (last-N, a room change) its timestamps run on without a jump.
- ``KeyframeLimiter`` spaces key-frame requests to one publisher (PLI, RFC 4585 section
  6.3.1): a new subscriber and a subscriber's PLI both ask, and a burst of joins must not make
  the publisher send a key frame (the largest frames there are) for each.

Payloads are never changed: what a subscriber receives is byte for byte what the publisher
sent (the VP8 payload descriptor included).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32


def seq_newer(a: int, b: int) -> bool:
    """``a`` comes after ``b`` in 16-bit sequence-number order (RFC 3550 appendix A.1)."""
    return a != b and ((a - b) % SEQ_MOD) < 0x8000


def vp8_descriptor_length(payload: bytes) -> int:
    """Length of the VP8 payload descriptor at the start of ``payload`` (RFC 7741 section 4.2)."""
    if not payload:
        raise ValueError("empty VP8 payload")
    pos = 1
    if payload[0] & 0x80:  # X: extension octet follows
        if len(payload) < 2:
            raise ValueError("truncated VP8 descriptor")
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits (M)
            if len(payload) <= pos:
                raise ValueError("truncated VP8 picture id")
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX octet
            pos += 1
    if pos > len(payload):
        raise ValueError("truncated VP8 descriptor")
    return pos


def vp8_starts_frame(payload: bytes) -> bool:
    """The packet starts a frame: S=1 and partition id 0."""
    return bool(payload) and payload[0] & 0x10 != 0 and payload[0] & 0x07 == 0


def vp8_is_keyframe(payload: bytes) -> bool:
    """The first packet of a key frame: its VP8 payload header's P bit is 0 (RFC 7741 section 4.3)."""
    if not vp8_starts_frame(payload):
        return False
    try:
        pos = vp8_descriptor_length(payload)
    except ValueError:
        return False
    return pos < len(payload) and payload[pos] & 0x01 == 0


@dataclass(frozen=True, slots=True)
class Frame:
    """One encoded frame: its RTP payloads in order, the publisher's RTP timestamp."""

    timestamp: int
    payloads: tuple[bytes, ...]
    keyframe: bool


@dataclass(slots=True)
class _Pending:
    packets: dict[int, bytes] = field(default_factory=dict)
    start: int | None = None
    end: int | None = None  # the marker packet's sequence number
    keyframe: bool = False

    def complete(self) -> bool:
        if self.start is None or self.end is None:
            return False
        return len(self.packets) == ((self.end - self.start) % SEQ_MOD) + 1

    def frame(self, timestamp: int) -> Frame:
        assert self.start is not None
        payloads = tuple(self.packets[(self.start + i) % SEQ_MOD] for i in range(len(self.packets)))
        return Frame(timestamp=timestamp, payloads=payloads, keyframe=self.keyframe)


class FrameAssembler:
    """VP8 packets of one publisher in, complete frames out, in order, as soon as complete."""

    def __init__(self, *, max_pending: int = 6, max_packets_per_frame: int = 512) -> None:
        if max_pending < 1 or max_packets_per_frame < 1:
            raise ValueError("max_pending and max_packets_per_frame must be at least 1")
        self.max_pending = max_pending
        self.max_packets_per_frame = max_packets_per_frame
        self._pending: dict[int, _Pending] = {}  # by RTP timestamp
        self._expected: int | None = None  # first sequence number of the next frame to release
        self._broken = False  # a frame was given up: release nothing until a key frame
        self.dropped_frames = 0

    def add(self, seq: int, timestamp: int, marker: bool, payload: bytes) -> tuple[list[Frame], bool]:
        """Take one packet; return the frames it completed and whether a key frame is needed."""
        if self._expected is not None and seq_newer(self._expected, seq):
            return [], False  # late: its frame was released or given up already
        pending = self._pending.get(timestamp)
        if pending is None:
            pending = self._pending[timestamp] = _Pending()
        if seq in pending.packets or len(pending.packets) >= self.max_packets_per_frame:
            return [], False
        pending.packets[seq] = payload
        if vp8_starts_frame(payload):
            pending.start = seq
            pending.keyframe = vp8_is_keyframe(payload)
        if marker:
            pending.end = seq
        if pending.complete():
            released = self._release()
            if released:
                return released, False
        return self._give_up_if_stuck()

    def _release(self) -> list[Frame]:
        out: list[Frame] = []
        while True:
            ready = self._next_ready()
            if ready is None:
                return out
            timestamp, pending = ready
            del self._pending[timestamp]
            self._drop_older_than(pending.start)
            assert pending.end is not None
            self._expected = (pending.end + 1) % SEQ_MOD
            self._broken = False
            out.append(pending.frame(timestamp))

    def _next_ready(self) -> tuple[int, _Pending] | None:
        complete = [(t, p) for t, p in self._pending.items() if p.complete()]
        if not complete:
            return None
        if self._expected is None:  # the first frame: the oldest complete one
            return min(complete, key=lambda tp: _seq_key(tp[1].start, complete[0][1].start))
        if self._broken:  # only a key frame restarts the chain
            keys = [tp for tp in complete if tp[1].keyframe]
            return min(keys, key=lambda tp: _seq_key(tp[1].start, self._expected)) if keys else None
        return next((tp for tp in complete if tp[1].start == self._expected), None)

    def _drop_older_than(self, start: int | None) -> None:
        assert start is not None
        for timestamp, pending in list(self._pending.items()):
            first = _first_seq(pending)
            if first is not None and seq_newer(start, first):
                del self._pending[timestamp]
                self.dropped_frames += 1

    def _give_up_if_stuck(self) -> tuple[list[Frame], bool]:
        if len(self._pending) <= self.max_pending:
            return [], False
        # The oldest frame will not complete in time: give it up and wait for a key frame.
        oldest = min(self._pending, key=lambda t: _seq_key(_first_seq(self._pending[t]), self._expected))
        del self._pending[oldest]
        self.dropped_frames += 1
        already = self._broken
        self._broken = True
        return self._release(), not already


def _first_seq(pending: _Pending) -> int | None:
    if pending.start is not None:
        return pending.start
    if not pending.packets:
        return None
    ref = next(iter(pending.packets))  # wrap-safe: packets of one frame lie within a few of each other
    return min(pending.packets, key=lambda s: (s - ref + 0x8000) % SEQ_MOD)


def _seq_key(seq: int | None, origin: int | None) -> int:
    """Distance of ``seq`` after ``origin`` (for ordering within a window of 32768 packets)."""
    if seq is None:
        return SEQ_MOD
    return (seq - (origin if origin is not None else seq)) % SEQ_MOD


class SlotClock:
    """RTP timestamps for one outgoing slot that run on when its publisher changes.

    ``step`` is one frame interval in RTP ticks (3000 at 90 kHz and 30 fps, 960 for 20 ms of
    Opus at 48 kHz): the first frame of a new publisher is stamped one step after the last
    frame of the previous one.
    """

    def __init__(self, step: int) -> None:
        if step <= 0:
            raise ValueError("step must be positive")
        self.step = step
        self.source: object = None
        self._offset = 0
        self._last: int | None = None

    def map(self, source: object, timestamp: int) -> int:
        if source is not self.source:
            self.source = source
            self._offset = (self._last + self.step - timestamp) if self._last is not None else -timestamp
        out = (timestamp + self._offset) % TS_MOD
        self._last = out
        return out


class KeyframeLimiter:
    """At most one key-frame request per ``interval_s`` to one publisher.

    ``ask(now)`` returns 0.0 when a request may go out now (and counts it as sent), otherwise
    how long until the next may; ``pending`` says a caller already waits for that moment, so a
    burst of asks becomes one request now and at most one more at the end of the interval.
    """

    def __init__(self, interval_s: float = 0.5) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self.last: float | None = None
        self.pending = False
        self.sent = 0

    def ask(self, now: float) -> float:
        if self.last is None or now - self.last >= self.interval_s:
            self.last = now
            self.pending = False
            self.sent += 1
            return 0.0
        return self.last + self.interval_s - now
