"""TANDEM_SFU_CAPACITY: the forwarded streams one media node takes."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from server.settings import SettingsError, from_env

KEK = base64.b64encode(b"k" * 32).decode()


def test_default_and_override(tmp_path: Path) -> None:
    assert from_env({"TANDEM_KEK": KEK}, data_dir=tmp_path).sfu_capacity == 400
    assert from_env({"TANDEM_KEK": KEK, "TANDEM_SFU_CAPACITY": "900"}, data_dir=tmp_path).sfu_capacity == 900
    with pytest.raises(SettingsError, match="TANDEM_SFU_CAPACITY"):
        from_env({"TANDEM_KEK": KEK, "TANDEM_SFU_CAPACITY": "0"}, data_dir=tmp_path)
