"""``clock_facts``: the only ways a decision depends on ``now``.

The send pipeline reuses a decision for a request equal but for ``now`` when
``clock_facts`` are equal. That is only right while every rule compares ``now`` with
nothing but the instants ``clock_facts`` covers: the first test fails when a rule starts
reading ``now`` elsewhere (then extend ``clock_facts``), the second checks the claim on
the rules as they are.
"""

from __future__ import annotations

import ast
import itertools
from datetime import timedelta
from pathlib import Path

import msgspec

from server.policy import rules
from server.policy.engine import PolicyEngine, clock_facts
from server.policy.loader import PolicySet

from .conftest import NOW, make_case, make_request

RULES_DIR = Path(rules.__file__).parent


def _reads_of_now(path: Path) -> list[str]:
    """Each ``<name>.now`` read in a rule module, as the source text of its whole line."""
    source = path.read_text()
    lines = source.splitlines()
    return [lines[node.lineno - 1].strip() for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr == "now"]


def test_only_face_to_face_first_reads_now_and_only_against_the_exception_end() -> None:
    reads = {path.stem: _reads_of_now(path) for path in sorted(RULES_DIR.glob("*.py"))}
    assert {rule: lines for rule, lines in reads.items() if lines} == {
        "face_to_face_first": ["if until is not None and until > request.now:"],
    }, "a rule reads now in a new way: extend server.policy.engine.clock_facts to cover it"


def test_requests_equal_but_for_now_with_equal_clock_facts_get_equal_decisions(policies: PolicySet) -> None:
    engine = PolicyEngine(policies)
    instants = [NOW + timedelta(hours=h) for h in (-48, -1, 0, 1, 48)]
    compared = 0
    for relation, action, met, until in itertools.product(
        ("client_self", "supervising_officer", "office_senior", "mentor", "network_partner", "none"),
        ("send_message", "read_case", "start_video", "supervise_remotely"),
        (0, 1),
        (None, NOW - timedelta(hours=2), NOW + timedelta(hours=2), NOW + timedelta(days=30)),
    ):
        case = make_case(face_to_face_with_current_officer=met, face_to_face_total=met, exception_until=until)
        extra = {"message_kind": "text"} if action == "send_message" else {}
        by_facts: dict[tuple[bool, ...], object] = {}
        for at in instants:
            request = msgspec.structs.replace(make_request(action, relation, case=case, **extra), now=at)
            decision = engine.evaluate(request)
            seen = by_facts.setdefault(clock_facts(case, at), decision)
            assert seen == decision, (relation, action, met, until, at)
            compared += 1
    assert compared == 6 * 4 * 2 * 4 * 5


def test_clock_facts_tell_whether_an_exception_is_running() -> None:
    assert clock_facts(None, NOW) == (False,)
    assert clock_facts(make_case(exception_until=None), NOW) == (False,)
    assert clock_facts(make_case(exception_until=NOW + timedelta(seconds=1)), NOW) == (True,)
    assert clock_facts(make_case(exception_until=NOW), NOW) == (False,)  # ended at this very instant
