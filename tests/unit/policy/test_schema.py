from __future__ import annotations

from typing import Any

import msgspec
import pytest

from server.policy.loader import PolicySet
from server.policy.schema import (
    ANONYMISABLE,
    CATEGORIES,
    CONFIG_TYPES,
    RULE_IDS,
    Problem,
    RuleConfig,
)


def _edited(policies: PolicySet, rule_id: str, **changes: Any) -> RuleConfig:
    data = msgspec.to_builtins(policies.config(rule_id))
    data.update(changes)
    return msgspec.convert(data, CONFIG_TYPES[rule_id])


def test_every_rule_has_a_config_type() -> None:
    assert tuple(CONFIG_TYPES) == RULE_IDS
    assert set(ANONYMISABLE) < set(CATEGORIES)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_the_defaults_have_no_problems_and_cite_a_source(policies: PolicySet, rule_id: str) -> None:
    config = policies.config(rule_id)
    assert config.problems() == []
    assert config.title
    assert "CEP" in config.source or "GDPR" in config.source


@pytest.mark.parametrize(
    ("rule_id", "key", "value"),
    [
        ("face_to_face_first", "gated_actions", ["send_message", "send_message"]),
        ("face_to_face_first", "exempt_message_kinds", ["text", "text"]),
        ("alternatives", "offer_for_low_digital_access", ["phone", "phone"]),
    ],
)
def test_duplicates_are_problems(policies: PolicySet, rule_id: str, key: str, value: list[str]) -> None:
    config = _edited(policies, rule_id, **{key: value})
    assert config.problems() == [Problem(key, f"{value[0]!r} is listed twice")]


def test_question_ids_are_unique_across_all_lists(policies: PolicySet) -> None:
    question = {"id": "private_place", "text": "Again?", "safe_answer": False}
    config = _edited(policies, "safe_space", staff_questions=[question])
    assert config.problems() == [Problem("question ids", "'private_place' is listed twice")]


def _retention(policies: PolicySet, **categories: dict[str, Any]) -> RuleConfig:
    data = msgspec.to_builtins(policies.retention)
    data["categories"].update(categories)
    return msgspec.convert(data, CONFIG_TYPES["retention"])


def test_only_aggregate_categories_may_be_anonymised(policies: PolicySet) -> None:
    config = _retention(
        policies,
        messages={"period_days": 730, "action": "anonymise"},
        call_quality={"period_days": 90, "action": "anonymise"},
        group_attendance={"period_days": 1095, "action": "anonymise"},
    )
    assert config.problems() == [
        Problem(
            "categories.messages.action",
            "only group_attendance and call_quality may be anonymised; anything else must be shredded",
        )
    ]


def test_the_audit_log_outlives_every_other_category(policies: PolicySet) -> None:
    config = _retention(policies, audit_log={"period_days": 1824, "action": "shred"})
    assert config.problems() == [
        Problem(
            "categories.audit_log.period_days",
            "must be at least 1825 days, the longest period of any other category (case_notes)",
        )
    ]


def test_an_audit_log_as_long_as_the_longest_category_is_enough(
    policies: PolicySet,
) -> None:
    config = _retention(policies, audit_log={"period_days": 1825, "action": "shred"})
    assert config.problems() == []


def test_unknown_retention_category_lookup_is_a_key_error(policies: PolicySet) -> None:
    with pytest.raises(KeyError, match="unknown retention category 'photos'"):
        policies.retention.categories.of("photos")


def test_admins_never_read_message_content(policies: PolicySet) -> None:
    config = _edited(policies, "scope", admin_reads_message_content=True)
    [problem] = config.problems()
    assert problem.key == "admin_reads_message_content"
    assert problem.reason.startswith("must be false")


def test_there_are_fewer_facilitators_than_places(policies: PolicySet) -> None:
    config = _edited(policies, "group_rules", max_participants=3, min_facilitators=3)
    assert config.problems() == [Problem("min_facilitators", "must be below max_participants (3)")]


def test_recording_is_off_unless_said_otherwise(policies: PolicySet) -> None:
    data = msgspec.to_builtins(policies.group_rules)
    del data["recording_allowed"]
    config = msgspec.convert(data, CONFIG_TYPES["group_rules"])
    assert config == policies.group_rules
