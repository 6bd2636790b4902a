"""Mentoring: a mentor's access to a mentee ends with the mentoring period (issue 16).

Romanian Probation Service, mentoring programme for Roma offenders (2015): a trained
mentor, often from an NGO, is assigned for a period with a start and an end (8 months
in the programme); GDPR art. 5(1)(c) and 25: access lasts no longer than the purpose.

- ``read_mentoring``: the mentor reads the mentee's mentoring conversation and their
  activity log only while the period runs; the mentee keeps reading their history.
- ``write_mentoring``: nobody writes in a mentoring (messages, attachments, activities)
  once the period has ended, the mentee included.
- ``record_mentoring_outcome``: the mentor records the outcome while the period runs and
  for ``outcome_days`` after its end.

The caller computes ``period_open`` and ``outcome_open`` from its clock (the period's end
is a day, the rule never reads ``now``); the officer extends a period with a reason. A
refusal names ``mentoring_period_ended``; docs/policies.md lists it.
"""

from __future__ import annotations

from server.policy.decision import Decision, allow, refuse, said
from server.policy.facts import READ_MENTORING, RECORD_MENTORING_OUTCOME, WRITE_MENTORING, PolicyRequest
from server.policy.schema import MentoringConfig

RULE_ID = "mentoring"
PERIOD_ENDED = "mentoring_period_ended"


def evaluate(config: MentoringConfig, request: PolicyRequest, version: int) -> Decision | None:
    del config  # the periods come computed in the facts; the config sets their lengths
    if request.action not in (READ_MENTORING, WRITE_MENTORING, RECORD_MENTORING_OUTCOME):
        return None
    facts = request.mentoring
    if facts is None:
        return refuse(PERIOD_ENDED, version, said("unknown", "A mentoring is asked about with the actor's place "
                                                             "in it"))
    if facts.period_open:
        return allow(RULE_ID, version, [said("period_open", "The mentoring period is running")])
    if request.action == READ_MENTORING and facts.party == "mentee":
        return allow(RULE_ID, version, [said("history", "The mentee keeps the history of their mentoring")])
    if request.action == RECORD_MENTORING_OUTCOME and facts.party == "mentor" and facts.outcome_open:
        return allow(RULE_ID, version, [said("outcome_open", "The period has ended; its outcome may still be "
                                                             "recorded")])
    if request.action == RECORD_MENTORING_OUTCOME and facts.party == "mentor":
        return refuse(PERIOD_ENDED, version, said("outcome_closed", "The time to record this mentoring's outcome "
                                                                    "has passed"))
    return refuse(PERIOD_ENDED, version, said("ended", "This mentoring period has ended"))
