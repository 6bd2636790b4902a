from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from server.policy.loader import (
    RULE_IDS,
    PolicyError,
    PolicySet,
    check_dir,
    load_dir,
    parse_documents,
    replace_rule,
)
from server.policy.schema import (
    AlternativesConfig,
    FaceToFaceFirstConfig,
    GroupRulesConfig,
    RetentionConfig,
    SafeSpaceConfig,
    ScopeConfig,
)

from .conftest import POLICIES_DIR


def _defaults() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in POLICIES_DIR.glob("*.toml")}


def _error(docs: dict[str, str]) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_documents(docs, version=1)
    return caught.value


def _edit(file: str, old: str, new: str) -> PolicyError:
    docs = _defaults()
    assert old in docs[file]
    docs[file] = docs[file].replace(old, new, 1)
    return _error(docs)


def _assert(error: PolicyError, file: str, key: str, reason: str) -> None:
    assert (error.file, error.key) == (file, key)
    assert reason in error.reason
    assert str(error) == f"{file}: {key}: {error.reason}"


def test_every_default_file_loads(policies: PolicySet) -> None:
    assert policies.version == 1
    assert tuple(policies.rules) == RULE_IDS
    assert isinstance(policies.face_to_face_first, FaceToFaceFirstConfig)
    assert isinstance(policies.safe_space, SafeSpaceConfig)
    assert isinstance(policies.retention, RetentionConfig)
    assert isinstance(policies.alternatives, AlternativesConfig)
    assert isinstance(policies.scope, ScopeConfig)
    assert isinstance(policies.group_rules, GroupRulesConfig)
    assert policies.config("scope") is policies.scope
    assert check_dir(POLICIES_DIR) == []


def test_the_defaults_are_the_documented_ones(policies: PolicySet) -> None:
    f2f = policies.face_to_face_first
    assert (f2f.min_meetings, f2f.require_current_officer, f2f.max_exception_days) == (
        1,
        True,
        30,
    )
    periods = {
        name: policies.retention.categories.of(name).period_days
        for name in ("messages", "safe_space_answers", "call_quality", "audit_log")
    }
    assert periods == {
        "messages": 730,
        "safe_space_answers": 180,
        "call_quality": 90,
        "audit_log": 2190,
    }
    assert not policies.group_rules.recording_allowed


def test_rules_are_read_only(policies: PolicySet) -> None:
    with pytest.raises(TypeError):
        policies.rules["scope"] = policies.scope  # type: ignore[index]


def test_a_policy_set_holds_every_rule(policies: PolicySet) -> None:
    with pytest.raises(ValueError, match="every rule exactly once"):
        PolicySet(version=1, rules={"scope": policies.scope})
    with pytest.raises(TypeError, match="scope needs a ScopeConfig"):
        PolicySet(version=1, rules={**policies.rules, "scope": policies.retention})
    with pytest.raises(ValueError, match="start at 1"):
        PolicySet(version=0, rules=policies.rules)


def test_to_documents_round_trips(policies: PolicySet) -> None:
    documents = policies.to_documents()
    assert tuple(documents) == RULE_IDS
    assert documents["scope"].startswith("# scope, policy version 1\n")
    again = parse_documents(documents, version=2)
    assert dict(again.rules) == dict(policies.rules)
    files = {f"{rule_id}.toml": text for rule_id, text in documents.items()}
    assert dict(parse_documents(files, version=3).rules) == dict(policies.rules)


def test_a_syntax_error_names_the_file_and_line() -> None:
    error = _edit("scope.toml", 'senior_officer_scope = "office"', "senior_officer_scope =")
    _assert(error, "scope.toml", "line 13", "TOML syntax error: Invalid value")


def test_a_syntax_error_at_the_end_names_the_end() -> None:
    docs = _defaults() | {"scope.toml": '[scope]\ntitle = "open'}
    _assert(_error(docs), "scope.toml", "end of file", "Unterminated string")


def test_an_unknown_key_is_named() -> None:
    error = _edit("face_to_face_first.toml", "enabled = true", "enabled = true\ncolour = 1")
    _assert(error, "face_to_face_first.toml", "face_to_face_first.colour", "unknown key")


def test_a_missing_key_is_named() -> None:
    error = _edit("face_to_face_first.toml", "min_meetings = 1", "")
    _assert(error, "face_to_face_first.toml", "face_to_face_first.min_meetings", "missing")


def test_a_wrong_type_is_named() -> None:
    error = _edit("face_to_face_first.toml", "min_meetings = 1", 'min_meetings = "1"')
    _assert(
        error,
        "face_to_face_first.toml",
        "face_to_face_first.min_meetings",
        "Expected `int`, got `str`",
    )


def test_a_negative_period_is_refused() -> None:
    error = _edit("retention.toml", "period_days = 730", "period_days = -730")
    _assert(
        error,
        "retention.toml",
        "retention.categories.messages.period_days",
        "Expected `int` >= 1",
    )


def test_an_audit_log_shorter_than_messages_is_refused() -> None:
    error = _edit("retention.toml", "period_days = 2190", "period_days = 365")
    _assert(
        error,
        "retention.toml",
        "retention.categories.audit_log.period_days",
        "must be at least 1825 days",
    )


def test_an_unknown_category_is_named() -> None:
    error = _edit(
        "retention.toml",
        "[retention.categories.messages]",
        '[retention.categories.chat_logs]\nperiod_days = 1\naction = "shred"\n\n[retention.categories.messages]',
    )
    _assert(error, "retention.toml", "retention.categories.chat_logs", "unknown key")


def test_an_invalid_list_item_is_named_by_index() -> None:
    error = _edit("safe_space.toml", 'id = "private_place"', 'id = "Private place"')
    _assert(
        error,
        "safe_space.toml",
        "safe_space.client_questions[0].id",
        "Expected `str` matching regex",
    )


def test_a_missing_rule_is_named() -> None:
    docs = _defaults()
    del docs["scope.toml"]
    _assert(_error(docs), "scope.toml", "scope", "missing: every rule needs its own file")


def test_an_unknown_rule_file_is_refused() -> None:
    docs = _defaults() | {"colour.toml": "[colour]\n"}
    _assert(_error(docs), "colour.toml", "colour", "unknown rule; expected one of")


def test_a_rule_given_twice_is_refused() -> None:
    docs = _defaults()
    docs["scope"] = docs["scope.toml"]
    _assert(_error(docs), "scope.toml", "scope", "given twice")


def test_other_documents_are_ignored() -> None:
    docs = _defaults() | {"README.md": "# not toml", "notes": "anything"}
    assert parse_documents(docs, version=1).version == 1


def test_a_file_holds_only_its_own_table() -> None:
    error = _edit("scope.toml", "[scope]", "[other]\nx = 1\n\n[scope]")
    _assert(error, "scope.toml", "other", "unexpected top-level key")
    docs = _defaults() | {"scope.toml": "# empty\n"}
    _assert(_error(docs), "scope.toml", "scope", "missing table [scope]")


def _write(tmp_path: Path, docs: dict[str, str]) -> Path:
    for name, text in docs.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_load_dir_ignores_other_files_and_sets_the_version(tmp_path: Path) -> None:
    path = _write(tmp_path, _defaults() | {"README.md": "docs"})
    assert load_dir(path, version=4).version == 4


def test_check_dir_reports_every_error_with_its_path(tmp_path: Path) -> None:
    docs = _defaults()
    docs["scope.toml"] = docs["scope.toml"].replace("false", "true")
    del docs["alternatives.toml"]
    path = _write(tmp_path, docs)
    (path / "retention.toml").write_bytes(b"\xff\xfe")
    errors = check_dir(path)
    assert [(e.file, e.key) for e in errors] == [
        (str(path / "retention.toml"), "(file)"),
        (str(path / "scope.toml"), "scope.admin_reads_message_content"),
        (str(path / "alternatives.toml"), "alternatives"),
    ]
    with pytest.raises(PolicyError) as caught:
        load_dir(path)
    assert str(caught.value) == str(errors[0])


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    [error] = check_dir(missing)
    _assert(error, str(missing), "(directory)", "not a directory")


def test_replace_rule_validates_and_versions(policies: PolicySet) -> None:
    config = msgspec.to_builtins(policies.face_to_face_first) | {"min_meetings": 2}
    updated = replace_rule(policies, "face_to_face_first", config, version=2)
    assert updated.version == 2
    assert updated.face_to_face_first.min_meetings == 2
    assert updated.scope is policies.scope
    assert policies.face_to_face_first.min_meetings == 1


def test_replace_rule_errors_read_like_file_errors(policies: PolicySet) -> None:
    config = msgspec.to_builtins(policies.retention)
    config["categories"]["messages"]["period_days"] = 0
    with pytest.raises(PolicyError) as caught:
        replace_rule(policies, "retention", config, version=2)
    _assert(
        caught.value,
        "retention.toml",
        "retention.categories.messages.period_days",
        "Expected `int` >= 1",
    )
    scope = msgspec.to_builtins(policies.scope) | {"admin_reads_message_content": True}
    with pytest.raises(PolicyError, match=r"scope\.admin_reads_message_content"):
        replace_rule(policies, "scope", scope, version=2)


def test_replace_rule_refuses_unknown_rules_and_old_versions(
    policies: PolicySet,
) -> None:
    with pytest.raises(PolicyError) as caught:
        replace_rule(policies, "colour", {}, version=2)
    _assert(caught.value, "colour.toml", "colour", "unknown rule")
    with pytest.raises(PolicyError) as caught:
        replace_rule(policies, "scope", {}, version=1)
    _assert(caught.value, "scope.toml", "version", "must be greater than")


def test_replaced_rules_round_trip_through_documents(policies: PolicySet) -> None:
    config = msgspec.to_builtins(policies.safe_space)
    config["client_questions"][0]["text"] = 'Odd "quotes"\nand\ttabs \\ é?'
    updated = replace_rule(policies, "safe_space", config, version=2)
    again = parse_documents(updated.to_documents(), version=2)
    assert again.safe_space == updated.safe_space
