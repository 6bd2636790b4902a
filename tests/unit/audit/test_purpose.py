from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.audit.purpose import PURPOSES, purpose_of

EN = json.loads((Path(__file__).resolve().parents[3] / "client_web/i18n/en.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("action", "purpose"), [
    ("case.note.read", "supervision"), ("message.read", "supervision"), ("checkin.read", "checkin"),
    ("retention.hold.set", "legal_hold"), ("retention.request.decide", "data_request"),
    ("data.export", "data_request"), ("retention.shred", "retention"), ("group.read", "group_programme"),
    ("mentor.assign", "mentoring"), ("network.add", "case_network"), ("enrolment.issue", "account"),
    ("casework", "other"), ("something.else", "other"),
])
def test_the_longest_prefix_names_the_purpose(action: str, purpose: str) -> None:
    assert purpose_of(action) == purpose


def test_every_purpose_is_worded_for_the_client() -> None:
    assert {f"mydata.purpose.{p}" for p in PURPOSES} <= set(EN)
