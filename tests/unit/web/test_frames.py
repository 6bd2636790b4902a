from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.web.frames import Error, FrameCodec, FrameError, Hello, Ping, Welcome


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
