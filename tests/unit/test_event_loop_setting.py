"""TANDEM_EVENT_LOOP chooses the server's event loop: uvloop unless told otherwise; any other
value stops the server naming the variable."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
import uvloop

from server.cli import event_loop
from server.settings import SettingsError, from_env

KEK = base64.b64encode(bytes(32)).decode()


def test_uvloop_unless_told_otherwise(tmp_path: Path) -> None:
    assert from_env({"TANDEM_KEK": KEK}, data_dir=tmp_path).event_loop == "uvloop"
    assert from_env({"TANDEM_KEK": KEK, "TANDEM_EVENT_LOOP": ""}, data_dir=tmp_path).event_loop == "uvloop"
    assert from_env({"TANDEM_KEK": KEK, "TANDEM_EVENT_LOOP": "uvloop"}, data_dir=tmp_path).event_loop == "uvloop"
    assert from_env({"TANDEM_KEK": KEK, "TANDEM_EVENT_LOOP": "asyncio"}, data_dir=tmp_path).event_loop == "asyncio"


@pytest.mark.parametrize("value", ["tokio", "UVLOOP", " asyncio", "uvloop,asyncio"])
def test_any_other_loop_names_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="TANDEM_EVENT_LOOP") as info:
        from_env({"TANDEM_KEK": KEK, "TANDEM_EVENT_LOOP": value}, data_dir=tmp_path)
    assert repr(value) in str(info.value) and "uvloop, asyncio" in str(info.value)


def test_event_loop_builds_the_chosen_loop() -> None:
    loop = event_loop("uvloop")
    try:
        assert isinstance(loop, uvloop.Loop)
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()
    assert loop.is_closed()
    loop = event_loop("asyncio")
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)  # the standard library's, not uvloop's
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()
    assert loop.is_closed()
