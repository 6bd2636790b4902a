"""Every reason code the server sends has words in the client's catalogs (issue 13): a refusal
or a decision reaches a person in their language, never as the server's English sentence."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import msgspec
import pytest

from server.web.strict import validation_error

ROOT = Path(__file__).resolve().parents[3]
EN = json.loads((ROOT / "client_web" / "i18n" / "en.json").read_text(encoding="utf-8"))

#: Codes no person can meet through a screen (a client bug or a hand-made request), answered
#: with the generic text of their error code.
INTERNAL = {
    "scope.no_case", "scope.no_office", "scope.case_mismatch", "scope.office_mismatch",
    "group_rules.no_session", "group_rules.no_group", "request.malformed_json", "request.too_deep",
    "request.repeated_parameter", "scheduling.view", "scheduling.unknown_time_zone", "scheduling.invalid",
    "safe_space.unknown_questions",
}


def server_codes() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "server").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'reason="(\w+\.[\w.]+)"', source))  # not frames' reason="ended"
        rule = re.search(r'^RULE_ID = "(\w+)"', source, re.M)
        if rule and "/policy/rules/" in path.as_posix():
            # A refusal may name a narrower rule than the module's (networks: network_member_only).
            names = dict(re.findall(r'^(\w+) = "(\w+)"$', source, re.M))
            narrower = re.findall(r'refuse\((\w+), version, said\(\s*"(\w+)"', source)
            codes |= {f"{names.get(name, rule.group(1))}.{c}" for name, c in narrower}
            codes |= {f"{rule.group(1)}.{c}" for c in re.findall(r'said\(\s*"(\w+)"', source)
                      if c not in {code for _, code in narrower}}
        if path.name == "model.py" and "scheduling" in path.parts:
            codes |= {f"scheduling.{c}" for c in re.findall(r'Error\(\s*f?"[^"]*"[^)]*?,\s*"(\w+)"', source, re.S)}
            codes |= {f"scheduling.{c}" for c in re.findall(r'\b(?:BadTimes|RecurrenceTooLong|NaiveDatetime)\(\s*'
                                                              r'(?:f?"[^"]*"\s*)+,\s*"(\w+)"', source, re.S)}
    codes |= set(re.findall(r'"(field\.\w+)"', (ROOT / "server/web/strict.py").read_text(encoding="utf-8")))
    return codes


def test_the_scan_finds_the_codes() -> None:
    codes = server_codes()
    for known in ("face_to_face_first.none_recorded", "scheduling.start_in_past", "field.too_long",
                  "case.meeting_in_future", "checkin.outside_window", "group_rules.full"):
        assert known in codes


def test_every_reason_code_has_catalog_words() -> None:
    missing = sorted(c for c in server_codes() - INTERNAL if f"reason.{c}" not in EN)
    assert not missing, f"reason codes with no words in client_web/i18n/en.json: {missing}"


class Note(msgspec.Struct):
    text: Annotated[str, msgspec.Meta(max_length=3)]
    days: Annotated[int, msgspec.Meta(ge=1)] = 1


class Meeting(msgspec.Struct, forbid_unknown_fields=True):
    met_at: int
    location: str = ""


@pytest.mark.parametrize(
    ("body", "reason", "field", "params"),
    [
        (b"{}", "field.missing", "met_at", {}),
        (b'{"met_at": 1, "zz": 1}', "field.unknown", "zz", {}),
        (b'{"met_at": 1, "location": 5}', "field.wrong_type", "location", {}),
    ],
)
def test_validation_errors_name_the_field_and_a_code(
        body: bytes, reason: str, field: str, params: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.decode(body, type=Meeting, strict=True)
    err = validation_error(caught.value)
    assert (err.reason, err.field, err.params) == (reason, field, params)
    assert err.message.startswith("Invalid request: ")


def test_limits_become_params() -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.decode(b'{"text": "long"}', type=Note)
    assert validation_error(caught.value).to_json()["error"] == {
        "code": "invalid_request", "message": "Invalid request: Expected `str` of length <= 3 - at `$.text`",
        "reason": "field.too_long", "params": {"max": 3}, "field": "text"}
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.decode(b'{"text": "a", "days": 0}', type=Note)
    err = validation_error(caught.value, "query")
    assert (err.reason, err.params, err.field) == ("field.too_small", {"min": 1}, "days")
