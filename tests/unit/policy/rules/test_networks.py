"""networks: the case leader always, members while their access lasts, the client only when safe."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from server.policy.decision import allow, refuse, said
from server.policy.engine import PolicyEngine
from server.policy.facts import ActorFacts, NetworkFacts, PolicyRequest
from server.policy.loader import PolicySet
from server.policy.rules.networks import evaluate
from server.policy.schema import NetworksConfig

from ..conftest import make_case

Request = Callable[..., PolicyRequest]
PARTNER = NetworkFacts(member=True, member_kind="partner", access_open=True)
CLIENT = NetworkFacts(member=True, member_kind="client", access_open=True)


@pytest.fixture
def config(policies: PolicySet) -> NetworksConfig:
    return policies.networks


@pytest.mark.parametrize("action", ["read_network", "write_network"])
def test_the_case_leader_always_takes_part(config: NetworksConfig, request_for: Request, action: str) -> None:
    outsider = NetworkFacts(member=False)
    assert evaluate(config, request_for(action, network=outsider), 1) == allow(
        "networks", 1, [said("case_leader", "Acting as the case leader")])
    assert evaluate(config, request_for(action, "office_senior", network=outsider), 1) == allow(
        "networks", 1, [said("office_senior", "Acting as the case leader (a senior officer of the office)")])


def test_a_relation_that_does_not_match_the_case_is_no_leader(config: NetworksConfig, request_for: Request) -> None:
    other = ActorFacts(user_id="off-9", role="officer", office_id="o-1")
    decision = evaluate(config, request_for("read_network", actor=other, network=NetworkFacts(member=False)), 1)
    assert decision is not None and decision.rule_id == "network_member_only"
    senior_b = ActorFacts(user_id="sen-2", role="senior_officer", office_id="o-2")
    decision = evaluate(config, request_for("read_network", "office_senior", actor=senior_b,
                                            network=NetworkFacts(member=False)), 1)
    assert decision is not None and decision.rule_id == "network_member_only"


def test_members_while_their_access_lasts(config: NetworksConfig, request_for: Request) -> None:
    assert evaluate(config, request_for("read_network", "network_partner", network=PARTNER), 1) == allow(
        "networks", 1, [said("member", "Taking part as a member of this case's network")])
    assert evaluate(config, request_for("read_network", "network_partner", network=NetworkFacts(member=False)),
                    1) == refuse(
        "network_member_only", 1, said("not_member", "Only the case leader and the network's members see it"))
    ended = msgspec.structs.replace(PARTNER, access_open=False)
    assert evaluate(config, request_for("write_network", "network_partner", network=ended), 1) == refuse(
        "network_access_ended", 1, said("ended", "Your access to this network has ended"))


def test_victim_protection_keeps_the_client_out_unless_recorded_safe(config: NetworksConfig,
                                                                     request_for: Request) -> None:
    protected = make_case(protected_person=True)
    decision = evaluate(config, request_for("read_network", "client_self", case=protected, network=CLIENT), 1)
    assert decision is not None and decision.rule_id == "victim_protection"
    safe = msgspec.structs.replace(CLIENT, safety_reason_recorded=True)
    decision = evaluate(config, request_for("read_network", "client_self", case=protected, network=safe), 1)
    assert decision is not None and decision.allowed
    # Only the flags the policy names count: domestic violence alone does not, by default.
    decision = evaluate(config, request_for("read_network", "client_self", case=make_case(domestic_violence=True),
                                            network=CLIENT), 1)
    assert decision is not None and decision.allowed
    strict = msgspec.structs.replace(config, victim_protection_flags=("protected_person", "domestic_violence"))
    decision = evaluate(strict, request_for("read_network", "client_self", case=make_case(domestic_violence=True),
                                            network=CLIENT), 1)
    assert decision is not None and decision.rule_id == "victim_protection"
    # A client member is the case's own client, or nobody.
    decision = evaluate(config, request_for("read_network", "network_partner", network=CLIENT), 1)
    assert decision is not None and decision.rule_id == "network_member_only"


def test_other_actions_are_not_its_business_and_facts_are_needed(config: NetworksConfig,
                                                                 request_for: Request) -> None:
    assert evaluate(config, request_for("read_case"), 1) is None
    assert evaluate(config, request_for("read_network"), 1) == refuse(
        "network_member_only", 1, said("unknown", "A network is asked about with its case and the actor's place in it"))
    assert evaluate(config, request_for("read_network", case=None, network=PARTNER), 1) is not None


def test_network_facts_are_consistent() -> None:
    with pytest.raises(ValueError, match="member_kind"):
        NetworkFacts(member=True)
    with pytest.raises(ValueError, match="not one of"):
        NetworkFacts(member=True, member_kind="police")


def test_the_engine_asks_networks_after_scope(policies: PolicySet, request_for: Request) -> None:
    decision = PolicyEngine(policies).evaluate(request_for("read_network", "network_partner", network=PARTNER))
    assert decision.allowed and decision.reasons == (
        "Taking part as a member of this case's network (rule networks)",)


def test_the_config_refuses_duplicate_flags(config: NetworksConfig) -> None:
    doubled = msgspec.structs.replace(config, victim_protection_flags=("protected_person", "protected_person"))
    assert [p.key for p in doubled.problems()] == ["victim_protection_flags"]
