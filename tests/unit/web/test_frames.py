from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.web.frames import Error, FrameCodec, FrameError, Hello, Ping, Send, Welcome


def test_decodes_known_frames() -> None:
    codec = FrameCodec()
    assert codec.decode('{"type":"hello","resume":{"c1":4}}') == Hello(resume={"c1": 4})
    assert codec.decode('{"type":"ping","id":"x"}') == Ping(id="x")


@pytest.mark.parametrize(("raw", "code"), [
    ('{"type":"nope"}', "invalid_frame"),
    ('{"type":"ping","extra":1}', "invalid_frame"),
    ('{"type":"hello","resume":{"c":-1}}', "invalid_frame"),
    ('{"type":"hello","version":2}', "invalid_frame"),
    ("[]", "invalid_frame"),
    ("{", "malformed_frame"),
    ('{"no_type":1}', "invalid_frame"),
])
def test_refuses_bad_frames_with_a_code(raw: str, code: str) -> None:
    with pytest.raises(FrameError) as err:
        FrameCodec().decode(raw)
    assert err.value.code == code


def test_size_limit_is_a_named_error() -> None:
    codec = FrameCodec(max_frame_bytes=64)
    with pytest.raises(FrameError) as err:
        codec.decode('{"type":"ping","id":"' + "x" * 100 + '"}')
    assert err.value.code == "frame_too_large"


def test_encodes_outbound_with_type() -> None:
    codec = FrameCodec()
    assert codec.encode(Error(code="c", message="m")) == b'{"type":"error","code":"c","message":"m"}'
    assert b'"type":"welcome"' in codec.encode(Welcome(user_id="u", role="client", heartbeat_s=1, max_frame_bytes=2))


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_arbitrary_input_never_escapes_as_anything_but_frame_error(data: str | bytes) -> None:
    with contextlib.suppress(FrameError):
        FrameCodec().decode(data)


def test_a_group_join_may_carry_a_full_sessions_offer_and_nothing_else_grows() -> None:
    """A 15-person session's offer (~22 m-lines, ~29 KB from aiortc) exceeds the 16 KiB frame
    limit; only `group.join` may be that large (issue 14), every other frame keeps the limit."""
    from server.groups.protocol import MAX_OFFER, GroupJoin

    codec = FrameCodec((GroupJoin, Send), max_frame_bytes=16 * 1024)
    assert codec.hard_limit == GroupJoin.max_bytes == MAX_OFFER + 1024
    offer = "v=0 " + "a" * 30_000  # as long as a full session's offer
    frame = codec.decode(json.dumps({"type": "group.join", "session": "s-1", "sdp": offer}))
    assert isinstance(frame, GroupJoin) and frame.sdp == offer
    big_hello = json.dumps({"type": "hello", "resume": {f"{i:060d}": 1 for i in range(300)}})  # ~20 KB, valid
    assert 16 * 1024 < len(big_hello) < codec.hard_limit
    with pytest.raises(FrameError) as err:
        codec.decode(big_hello)
    assert err.value.code == "frame_too_large"
    too_big = json.dumps({"type": "group.join", "session": "s-1", "sdp": "x" * (MAX_OFFER + 2048)})
    with pytest.raises(FrameError) as err:
        codec.decode(too_big)
    assert err.value.code == "frame_too_large"


def test_the_facilitators_breakout_frames_are_strict() -> None:
    """`group.breakouts` and its siblings (issue 14) decode only within their limits."""
    from server.groups import protocol as gp

    codec = FrameCodec(gp.INBOUND)
    frame = codec.decode(json.dumps({"type": "group.breakouts", "session": "s", "minutes": 10,
                                     "rooms": [{"name": "A", "participants": ["p2"]}, {"name": "B"}]}))
    assert isinstance(frame, gp.GroupBreakouts)
    assert frame.rooms == (gp.BreakoutRoom(name="A", participants=("p2",)), gp.BreakoutRoom(name="B"))
    assert codec.decode('{"type":"group.spotlight","session":"s","participant":null}') == gp.GroupSpotlight(
        session="s", participant=None)
    assert isinstance(codec.decode('{"type":"group.end","session":"s"}'), gp.GroupEnd)
    assert codec.decode('{"type":"group.hands_clear","session":"s","id":"h1"}') == gp.GroupHandsClear(
        session="s", id="h1")
    assert codec.decode('{"type":"group.media","session":"s","video":false}') == gp.GroupMedia(
        session="s", video=False)
    assert codec.decode('{"type":"group.media","session":"s","audio":false}') == gp.GroupMedia(
        session="s", audio=False)
    for bad in ({"type": "group.breakouts", "session": "s", "minutes": 0, "rooms": [{"name": "A"}]},
                {"type": "group.breakouts", "session": "s", "minutes": 241, "rooms": [{"name": "A"}]},
                {"type": "group.breakouts", "session": "s", "minutes": 5, "rooms": []},
                {"type": "group.breakouts", "session": "s", "minutes": 5,
                 "rooms": [{"name": f"r{i}"} for i in range(9)]},
                {"type": "group.breakouts", "session": "s", "minutes": 5, "rooms": [{"name": "A", "x": 1}]},
                {"type": "group.breakouts", "session": "s", "minutes": 5, "rooms": [{"name": "x" * 61}]},
                {"type": "group.move", "session": "s", "participant": "p2", "room": ""},
                {"type": "group.spotlight", "session": "s"},
                {"type": "group.camera_stop", "session": "s"},
                {"type": "group.hands_clear", "session": "s", "participant": "p2"},
                {"type": "group.media", "session": "s", "video": "yes"}):
        with pytest.raises(FrameError) as err:
            codec.decode(json.dumps(bad))
        assert err.value.code == "invalid_frame", bad
