from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from server.policy.decision import Said, allow, refuse, said
from server.policy.facts import ACTIONS, RELATIONS, ActorFacts, CaseFacts, OfficeFacts, PolicyRequest
from server.policy.loader import PolicySet
from server.policy.rules.scope import PERMITTED, evaluate
from server.policy.schema import ScopeConfig

from ..conftest import NOW

Request = Callable[..., PolicyRequest]


@pytest.fixture
def config(policies: PolicySet) -> ScopeConfig:
    return policies.scope


def test_the_permission_table() -> None:
    assert PERMITTED == {
        "read_case": ("supervising_officer", "office_senior", "client_self"),
        "write_case": ("supervising_officer", "office_senior"),
        "send_message": ("supervising_officer", "office_senior", "client_self"),
        "supervise_remotely": ("supervising_officer", "office_senior"),
        "start_video": ("supervising_officer", "office_senior"),
    }


@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("action", ACTIONS)
def test_each_relation_may_do_exactly_what_the_table_says(
    config: ScopeConfig, request_for: Request, action: str, relation: str
) -> None:
    decision = evaluate(config, request_for(action, relation), 1)
    if action == "act_in_office":
        assert decision is not None and decision.rule_id == "scope"  # no office in the request
        return
    if action not in PERMITTED:
        assert decision is None
        return
    assert decision is not None
    assert decision.allowed == (relation in PERMITTED[action])
    if decision.allowed:
        label = relation.replace("_", " ")
        assert decision.reasons == (f"Acting as {label} of this case (rule scope)",)
    else:
        assert decision.rule_id == "scope"


@pytest.mark.parametrize(
    ("relation", "actor", "sentence"),
    [
        ("mentor", None, said("mentor", "Mentors talk only with their mentees and see no case data")),
        ("network_partner", None, said("network_partner", "Partner agencies see only their case network channel")),
        ("interpreter_invited", None, said("interpreter", "Interpreters join only the sessions they are invited to")),
        ("facilitator", None, said("facilitator", "Facilitators see only their group sessions, not case data")),
        ("none", None, said("own_caseload", "Officers see only their own caseload")),
        (
            "none",
            ActorFacts(user_id="a", role="admin", office_id=None),
            said("admin", "Administrators run the service and do not see case data"),
        ),
        (
            "none",
            ActorFacts(user_id="s", role="senior_officer", office_id="o-2"),
            said("own_office_cases", "Senior officers see only the cases of their own office"),
        ),
        (
            "none",
            ActorFacts(user_id="c", role="client", office_id=None),
            said("no_part", "You have no part in this case"),
        ),
    ],
)
def test_refusals_say_why(
    config: ScopeConfig,
    request_for: Request,
    relation: str,
    actor: ActorFacts | None,
    sentence: Said,
) -> None:
    decision = evaluate(config, request_for("read_case", relation, actor=actor), 4)
    assert decision == refuse("scope", 4, sentence)


def test_a_client_cannot_write_their_own_case(config: ScopeConfig, request_for: Request) -> None:
    decision = evaluate(config, request_for("write_case", "client_self"), 1)
    assert decision == refuse(
        "scope", 1, said("officers_only", "Only the supervising officer or a senior officer of the office may do this"))


def test_seniors_may_be_limited_to_their_caseload(config: ScopeConfig, request_for: Request) -> None:
    caseload = msgspec.structs.replace(config, senior_officer_scope="caseload")
    assert evaluate(caseload, request_for("read_case", "office_senior"), 1) == refuse(
        "scope", 1, said("senior_caseload", "Senior officers see only their own caseload")
    )
    own = evaluate(caseload, request_for("read_case", "supervising_officer"), 1)
    assert own is not None
    assert own.allowed


@pytest.mark.parametrize(
    ("relation", "actor"),
    [
        ("supervising_officer", ActorFacts(user_id="off-9", role="officer", office_id="o-1")),
        ("office_senior", ActorFacts(user_id="sen-1", role="senior_officer", office_id="o-2")),
        ("office_senior", ActorFacts(user_id="off-9", role="officer", office_id="o-1")),
        ("client_self", ActorFacts(user_id="cli-9", role="client", office_id=None)),
        ("client_self", ActorFacts(user_id="cli-1", role="mentor", office_id=None)),
    ],
)
def test_a_relation_that_does_not_match_the_case_fails_closed(
    config: ScopeConfig, request_for: Request, relation: str, actor: ActorFacts
) -> None:
    decision = evaluate(config, request_for("read_case", relation, actor=actor), 1)
    assert decision == refuse(
        "scope", 1, said("case_mismatch", "The relation to this case does not match the case record"))


def test_case_less_messages_are_not_its_business(config: ScopeConfig, request_for: Request) -> None:
    assert evaluate(config, request_for("send_message", "mentor", case=None), 1) is None


@pytest.mark.parametrize("action", ["read_case", "write_case", "start_video"])
def test_case_actions_without_a_case_are_refused(config: ScopeConfig, request_for: Request, action: str) -> None:
    assert evaluate(config, request_for(action, case=None), 1) == refuse(
        "scope", 1, said("no_case", "This action needs a case"))


def test_a_senior_of_the_office_reads_any_case_in_it(
    config: ScopeConfig, request_for: Request, case: Callable[..., CaseFacts]
) -> None:
    request = request_for("read_case", "office_senior", case=case(officer_id="off-7"))
    decision = evaluate(config, request, 1)
    assert decision is not None
    assert decision.allowed


# -- the office boundary: act_in_office ---------------------------------------------------

OFFICE_ADMIN = ActorFacts(user_id="adm-1", role="admin", office_id="o-1")
NO_OFFICE_ADMIN = ActorFacts(user_id="adm-9", role="admin", office_id=None)
CROSS_OFFICE_ADMIN = ActorFacts(user_id="adm-0", role="admin", office_id=None, cross_office=True)


OTHER_OFFICE = refuse("scope", 1, said("other_office", "Staff act only within their own office"))
NO_OFFICE_OF_OWN = refuse("scope", 1, said("no_office_of_own", "An account with no office acts in no office unless "
                                                               "the deployment names it a cross-office administrator"))


def in_office(actor: ActorFacts, relation: str, office_id: str | None) -> PolicyRequest:
    return PolicyRequest(action="act_in_office", actor=actor, now=NOW, relation=relation,
                         office=OfficeFacts(office_id=office_id))


@pytest.mark.parametrize(
    ("actor", "relation", "office_id", "expected"),
    [
        (OFFICE_ADMIN, "own_office", "o-1", allow("scope", 1, [said("own_office", "Acting in their own office")])),
        (ActorFacts(user_id="s", role="senior_officer", office_id="o-1"), "own_office", "o-1",
         allow("scope", 1, [said("own_office", "Acting in their own office")])),
        (CROSS_OFFICE_ADMIN, "cross_office", "o-2",
         allow("scope", 1, [said("cross_office", "Acting as the deployment's cross-office administrator")])),
        (CROSS_OFFICE_ADMIN, "cross_office", None,
         allow("scope", 1, [said("cross_office", "Acting as the deployment's cross-office administrator")])),
        (OFFICE_ADMIN, "none", "o-2", OTHER_OFFICE),
        (OFFICE_ADMIN, "none", None, OTHER_OFFICE),
        (NO_OFFICE_ADMIN, "none", "o-1", NO_OFFICE_OF_OWN),
        (NO_OFFICE_ADMIN, "none", None, NO_OFFICE_OF_OWN),
    ],
)
def test_staff_act_in_their_own_office_and_only_a_named_admin_crosses(
    config: ScopeConfig, actor: ActorFacts, relation: str, office_id: str | None, expected: object
) -> None:
    assert evaluate(config, in_office(actor, relation, office_id), 1) == expected


@pytest.mark.parametrize(
    ("actor", "relation", "office_id"),
    [
        (OFFICE_ADMIN, "own_office", "o-2"),
        (NO_OFFICE_ADMIN, "own_office", None),
        (NO_OFFICE_ADMIN, "cross_office", "o-1"),
        (OFFICE_ADMIN, "cross_office", "o-2"),
    ],
)
def test_an_office_relation_that_does_not_match_fails_closed(
    config: ScopeConfig, actor: ActorFacts, relation: str, office_id: str | None
) -> None:
    assert evaluate(config, in_office(actor, relation, office_id), 1) == refuse(
        "scope", 1, said("office_mismatch", "The relation to this office does not match the records"))


def test_acting_in_an_office_needs_an_office(config: ScopeConfig) -> None:
    request = PolicyRequest(action="act_in_office", actor=OFFICE_ADMIN, now=NOW, relation="own_office")
    assert evaluate(config, request, 1) == refuse("scope", 1, said("no_office", "This action needs an office"))
