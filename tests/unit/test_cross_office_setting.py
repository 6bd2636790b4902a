"""TANDEM_CROSS_OFFICE_ADMINS: the deployment names its cross-office administrators."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from server.settings import SettingsError, from_env

KEK = base64.b64encode(bytes(32)).decode()


def test_no_one_crosses_offices_unless_named(tmp_path: Path) -> None:
    assert from_env({"TANDEM_KEK": KEK}, data_dir=tmp_path).cross_office_admins == frozenset()
    named = from_env({"TANDEM_KEK": KEK, "TANDEM_CROSS_OFFICE_ADMINS": " root, ops.lead ,"}, data_dir=tmp_path)
    assert named.cross_office_admins == frozenset({"root", "ops.lead"})


def test_a_name_that_is_no_username_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TANDEM_CROSS_OFFICE_ADMINS"):
        from_env({"TANDEM_KEK": KEK, "TANDEM_CROSS_OFFICE_ADMINS": "root,*"}, data_dir=tmp_path)
