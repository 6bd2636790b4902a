"""Reminder and join-window settings load from the environment; bad ones name the variable."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from server.settings import SettingsError, from_env

KEK = base64.b64encode(bytes(32)).decode()


def test_defaults_and_overrides(tmp_path: Path) -> None:
    assert from_env({"TANDEM_KEK": KEK}, data_dir=tmp_path).reminder_offsets_s == (86400, 900)
    s = from_env({"TANDEM_KEK": KEK, "TANDEM_REMINDER_OFFSETS": "2h,2d", "TANDEM_JOIN_OPEN_BEFORE_S": "300",
                  "TANDEM_REMINDER_INTERVAL_S": "10"}, data_dir=tmp_path)
    assert (s.reminder_offsets_s, s.join_open_before_s, s.reminder_interval_s) == ((172800, 7200), 300, 10)


def test_a_bad_offset_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TANDEM_REMINDER_OFFSETS"):
        from_env({"TANDEM_KEK": KEK, "TANDEM_REMINDER_OFFSETS": "1w"}, data_dir=tmp_path)
