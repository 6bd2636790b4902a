"""mentoring: a mentor's access, and everyone's writes, end with the period; the mentee keeps
reading; the mentor records the outcome until the policy's days after the end run out."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from server.policy.decision import allow, refuse, said
from server.policy.engine import PolicyEngine
from server.policy.facts import ActorFacts, MentoringFacts, PolicyRequest
from server.policy.loader import PolicySet
from server.policy.rules.mentoring import evaluate
from server.policy.schema import MentoringConfig

NOW = datetime(2026, 1, 5, tzinfo=UTC)
MENTOR = ActorFacts(user_id="m", role="mentor", office_id="o")
MENTEE = ActorFacts(user_id="c", role="client", office_id=None)
OPEN = said("period_open", "The mentoring period is running")
ENDED = said("ended", "This mentoring period has ended")


@pytest.fixture
def config(policies: PolicySet) -> MentoringConfig:
    return policies.mentoring


def ask(action: str, party: str, *, period: bool, outcome: bool = False) -> PolicyRequest:
    return PolicyRequest(action=action, now=NOW, actor=MENTOR if party == "mentor" else MENTEE,
                         mentoring=MentoringFacts(party=party, period_open=period, outcome_open=outcome))


@pytest.mark.parametrize("action", ["read_mentoring", "write_mentoring", "record_mentoring_outcome"])
@pytest.mark.parametrize("party", ["mentor", "mentee"])
def test_everything_is_allowed_while_the_period_runs(config: MentoringConfig, action: str, party: str) -> None:
    assert evaluate(config, ask(action, party, period=True), 3) == allow("mentoring", 3, [OPEN])


@pytest.mark.parametrize("party", ["mentor", "mentee"])
def test_nobody_writes_after_the_end(config: MentoringConfig, party: str) -> None:
    decision = evaluate(config, ask("write_mentoring", party, period=False, outcome=True), 3)
    assert decision == refuse("mentoring_period_ended", 3, ENDED)
    assert decision is not None and decision.rule_id == "mentoring_period_ended"


def test_the_mentor_reads_nothing_after_the_end_and_the_mentee_keeps_the_history(config: MentoringConfig) -> None:
    assert evaluate(config, ask("read_mentoring", "mentor", period=False), 3) == refuse(
        "mentoring_period_ended", 3, ENDED)
    assert evaluate(config, ask("read_mentoring", "mentee", period=False), 3) == allow(
        "mentoring", 3, [said("history", "The mentee keeps the history of their mentoring")])


def test_the_mentor_records_the_outcome_until_its_time_runs_out(config: MentoringConfig) -> None:
    assert evaluate(config, ask("record_mentoring_outcome", "mentor", period=False, outcome=True), 3) == allow(
        "mentoring", 3, [said("outcome_open", "The period has ended; its outcome may still be recorded")])
    assert evaluate(config, ask("record_mentoring_outcome", "mentor", period=False), 3) == refuse(
        "mentoring_period_ended", 3,
        said("outcome_closed", "The time to record this mentoring's outcome has passed"))
    # The mentee records no outcome: after the end, it is refused as any write.
    assert evaluate(config, ask("record_mentoring_outcome", "mentee", period=False, outcome=True), 3) == refuse(
        "mentoring_period_ended", 3, ENDED)


def test_without_facts_it_refuses_and_other_actions_are_not_its_business(config: MentoringConfig) -> None:
    bare = PolicyRequest(action="read_mentoring", now=NOW, actor=MENTOR)
    decision = evaluate(config, bare, 3)
    assert decision is not None and not decision.allowed and decision.rule_id == "mentoring_period_ended"
    assert evaluate(config, PolicyRequest(action="read_case", now=NOW, actor=MENTOR), 3) is None


def test_the_engine_runs_it(policies: PolicySet) -> None:
    decision = PolicyEngine(policies).evaluate(ask("write_mentoring", "mentee", period=False))
    assert (decision.allowed, decision.rule_id) == (False, "mentoring_period_ended")


def test_facts_name_a_known_party() -> None:
    with pytest.raises(ValueError, match="party"):
        MentoringFacts(party="officer", period_open=True)


def test_a_default_period_longer_than_the_longest_is_a_problem(config: MentoringConfig) -> None:
    wrong = msgspec.structs.replace(config, default_period_days=config.max_period_days + 1)
    assert [p.key for p in wrong.problems()] == ["default_period_days"]
    assert config.problems() == []
