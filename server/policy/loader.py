"""Reading, validating and writing policy documents.

One file per rule, ``policies/<rule_id>.toml``, holding the single table
``[<rule_id>]``. Every error names the file, the dotted key and the reason, so
``tandem policy check policies/`` and an admin API 400 read the same way::

    retention.toml: retention.categories.audit_log.period_days: must be at least ...
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar, cast

import msgspec

from server.policy import toml_out
from server.policy.schema import (
    CONFIG_TYPES,
    RULE_IDS,
    AlternativesConfig,
    FaceToFaceFirstConfig,
    GroupRulesConfig,
    MentoringConfig,
    NetworksConfig,
    RetentionConfig,
    RuleConfig,
    SafeSpaceConfig,
    ScopeConfig,
)

__all__ = [
    "RULE_IDS",
    "PolicyError",
    "PolicySet",
    "check_dir",
    "load_dir",
    "parse_documents",
    "replace_rule",
]


class PolicyError(Exception):
    """A policy document is invalid: which file, which dotted key, and why."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(file, key, reason)
        self.file = file
        self.key = key
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}"


@dataclass(frozen=True)
class PolicySet:
    """One validated version of all rules."""

    version: int
    rules: Mapping[str, RuleConfig] = field(repr=False)

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError("policy versions start at 1")
        if set(self.rules) != set(RULE_IDS):
            raise ValueError("a policy set holds every rule exactly once")
        for rule_id, config in self.rules.items():
            if not isinstance(config, CONFIG_TYPES[rule_id]):
                raise TypeError(f"{rule_id} needs a {CONFIG_TYPES[rule_id].__name__}")
        # Read-only view so a loaded policy set cannot be changed behind the audit log.
        ordered = {rule_id: self.rules[rule_id] for rule_id in RULE_IDS}
        object.__setattr__(self, "rules", MappingProxyType(ordered))

    def config(self, rule_id: str) -> RuleConfig:
        return self.rules[rule_id]

    @property
    def face_to_face_first(self) -> FaceToFaceFirstConfig:
        return _typed(self, "face_to_face_first", FaceToFaceFirstConfig)

    @property
    def safe_space(self) -> SafeSpaceConfig:
        return _typed(self, "safe_space", SafeSpaceConfig)

    @property
    def retention(self) -> RetentionConfig:
        return _typed(self, "retention", RetentionConfig)

    @property
    def alternatives(self) -> AlternativesConfig:
        return _typed(self, "alternatives", AlternativesConfig)

    @property
    def scope(self) -> ScopeConfig:
        return _typed(self, "scope", ScopeConfig)

    @property
    def group_rules(self) -> GroupRulesConfig:
        return _typed(self, "group_rules", GroupRulesConfig)

    @property
    def networks(self) -> NetworksConfig:
        return _typed(self, "networks", NetworksConfig)

    @property
    def mentoring(self) -> MentoringConfig:
        return _typed(self, "mentoring", MentoringConfig)

    def to_documents(self) -> dict[str, str]:
        """rule_id -> TOML text that :func:`parse_documents` reads back unchanged."""
        return {
            rule_id: toml_out.dumps(
                rule_id,
                msgspec.to_builtins(self.rules[rule_id]),
                comment=f"{rule_id}, policy version {self.version}",
            )
            for rule_id in RULE_IDS
        }


_T = TypeVar("_T")


def _typed(policies: PolicySet, rule_id: str, kind: type[_T]) -> _T:
    # __post_init__ checked every config against CONFIG_TYPES.
    return cast(_T, policies.rules[rule_id])


_FIELD = re.compile(r"^Object (?:contains unknown|missing required) field `(?P<name>[^`]+)`$")
_LINE = re.compile(r"\(at line (?P<line>\d+), column \d+\)$")


def _validation_error(file: str, rule_id: str, error: msgspec.ValidationError) -> PolicyError:
    # msgspec says "Expected `int` >= 1 - at `$.categories.messages.period_days`";
    # the path becomes the dotted key, "$" standing for the rule's own table.
    message, at, path = str(error).partition(" - at `$")
    key = rule_id + (path.removesuffix("`") if at else "")
    named = _FIELD.match(message)
    if named:
        key = f"{key}.{named['name']}"
        message = "unknown key" if "unknown" in message else "missing required key"
    return PolicyError(file, key, message)


def _convert(file: str, rule_id: str, table: object) -> tuple[RuleConfig | None, list[PolicyError]]:
    try:
        config = msgspec.convert(table, type=CONFIG_TYPES[rule_id], strict=True)
    except msgspec.ValidationError as error:
        return None, [_validation_error(file, rule_id, error)]
    problems = [PolicyError(file, f"{rule_id}.{p.key}", p.reason) for p in config.problems()]
    return (None if problems else config), problems


def _document(file: str, rule_id: str, text: str) -> tuple[RuleConfig | None, list[PolicyError]]:
    if rule_id not in RULE_IDS:
        reason = "unknown rule; expected one of " + ", ".join(RULE_IDS)
        return None, [PolicyError(file, rule_id, reason)]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = _LINE.search(str(error))
        where = f"line {line['line']}" if line else "end of file"
        return None, [PolicyError(file, where, f"TOML syntax error: {error}")]
    stray = [key for key in data if key != rule_id]
    if stray:
        reason = f"unexpected top-level key; the file holds only [{rule_id}]"
        return None, [PolicyError(file, stray[0], reason)]
    if rule_id not in data:
        return None, [PolicyError(file, rule_id, f"missing table [{rule_id}]")]
    return _convert(file, rule_id, data[rule_id])


def _rule_of(name: str) -> str | None:
    """The rule a document key names: "scope.toml" (a file) or "scope" (as stored)."""
    if name.endswith(".toml"):
        return name.removesuffix(".toml")
    return name if name in RULE_IDS else None


def _collect(
    docs: Mapping[str, str],
    label: Callable[[str], str],
    unreadable: Iterable[str] = (),
) -> tuple[dict[str, RuleConfig], list[PolicyError]]:
    """Validate every rule document; ``label`` turns a file name into what errors
    show."""
    configs: dict[str, RuleConfig] = {}
    errors: list[PolicyError] = []
    present = {name.removesuffix(".toml") for name in unreadable}
    for name in sorted(docs):
        rule_id = _rule_of(name)
        if rule_id is None:
            continue  # not a policy document (README.md, notes.txt ...)
        file = label(f"{rule_id}.toml")
        if rule_id in present:
            errors.append(PolicyError(file, rule_id, "given twice; every rule exactly once"))
            continue
        present.add(rule_id)
        config, found = _document(file, rule_id, docs[name])
        errors.extend(found)
        if config is not None:
            configs[rule_id] = config
    for rule_id in RULE_IDS:
        if rule_id not in present:
            reason = "missing: every rule needs its own file"
            errors.append(PolicyError(label(f"{rule_id}.toml"), rule_id, reason))
    return configs, errors


def parse_documents(docs: Mapping[str, str], *, version: int) -> PolicySet:
    """Validate a full set of documents; raise the first error.

    Keys are file names ("scope.toml") or rule ids ("scope", as
    :meth:`PolicySet.to_documents` writes them); other keys are ignored.
    """
    configs, errors = _collect(docs, lambda name: name)
    if errors:
        raise errors[0]
    return PolicySet(version=version, rules=configs)


def _scan(path: Path) -> tuple[dict[str, RuleConfig], list[PolicyError]]:
    if not path.is_dir():
        return {}, [PolicyError(str(path), "(directory)", "not a directory")]
    docs: dict[str, str] = {}
    errors: list[PolicyError] = []
    unreadable: list[str] = []
    for file in sorted(path.glob("*.toml")):
        try:
            docs[file.name] = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            errors.append(PolicyError(str(file), "(file)", f"cannot be read: {error}"))
            unreadable.append(file.name)
    configs, found = _collect(docs, lambda name: str(path / name), unreadable)
    return configs, errors + found


def check_dir(path: Path) -> list[PolicyError]:
    """Every error in a policy directory, for ``tandem policy check DIR``."""
    return _scan(path)[1]


def load_dir(path: Path, *, version: int = 1) -> PolicySet:
    """Load and validate a policy directory; raise the first error found."""
    configs, errors = _scan(path)
    if errors:
        raise errors[0]
    return PolicySet(version=version, rules=configs)


def replace_rule(policies: PolicySet, rule_id: str, config: Mapping[str, object], *, version: int) -> PolicySet:
    """A new policy set with one rule's config replaced (as sent to the admin API)."""
    file = f"{rule_id}.toml"
    if rule_id not in RULE_IDS:
        raise PolicyError(file, rule_id, "unknown rule; expected one of " + ", ".join(RULE_IDS))
    if version <= policies.version:
        raise PolicyError(
            file,
            "version",
            f"must be greater than the current version {policies.version}",
        )
    new, errors = _convert(file, rule_id, dict(config))
    if new is None:
        raise errors[0]
    return PolicySet(version=version, rules={**policies.rules, rule_id: new})
