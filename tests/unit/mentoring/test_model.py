"""Mentoring periods (pure): when a period runs, when its outcome may still be recorded, what a
mentor may record, and the decision on a mentoring conversation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from server.errors import BadRequest, PolicyRefused
from server.identity.model import Actor, Role
from server.mentoring import model
from server.policy.engine import PolicyEngine
from server.policy.loader import PolicySet, load_dir
from tests.unit.policy.conftest import POLICIES_DIR

DAY = date(2026, 3, 31)
MIDNIGHT = datetime(2026, 4, 1, tzinfo=UTC)
MENTOR = Actor("m", "mentor", "Mentor", Role.MENTOR, "o", "en", False)
MENTEE = Actor("c", "client", "Client", Role.CLIENT, None, "en", False)


@pytest.fixture(scope="module")
def policies() -> PolicySet:
    return load_dir(POLICIES_DIR)


def test_access_ends_at_midnight_utc_after_the_last_day() -> None:
    assert model.access_ends(DAY) == MIDNIGHT and model.access_ends(None) is None
    assert model.period_open(DAY, None, MIDNIGHT - timedelta(microseconds=1))
    assert not model.period_open(DAY, None, MIDNIGHT)
    assert model.period_open(None, None, MIDNIGHT)  # an assignment from before periods
    assert not model.period_open(DAY, MIDNIGHT - timedelta(days=3), MIDNIGHT - timedelta(days=1))  # ended early


def test_the_outcome_stays_open_for_the_policys_days_after_the_end() -> None:
    assert model.outcome_open(DAY, None, MIDNIGHT + timedelta(days=29, hours=23), 30)
    assert not model.outcome_open(DAY, None, MIDNIGHT + timedelta(days=30), 30)
    ended = MIDNIGHT - timedelta(days=20)  # ended by an officer before the planned end: counted from then
    assert not model.outcome_open(DAY, ended, ended + timedelta(days=30), 30)
    assert model.outcome_open(None, None, MIDNIGHT, 0)


def test_days_left() -> None:
    assert model.days_left(DAY, DAY) == 0 and model.days_left(DAY, date(2026, 3, 26)) == 5
    assert model.days_left(DAY, date(2026, 4, 2)) == -2 and model.days_left(None, DAY) is None


def test_a_periods_end_lies_ahead_within_the_longest_period() -> None:
    model.check_end(DAY + timedelta(days=1), DAY, 730)
    for ends_on, reason in ((DAY, "case.mentoring_end"), (DAY + timedelta(days=731), "mentoring.too_long")):
        with pytest.raises(BadRequest) as err:
            model.check_end(ends_on, DAY, 730)
        assert err.value.reason == reason


@pytest.mark.parametrize(("kind", "done_on", "minutes", "note", "reason"), [
    ("party", DAY, 60, "", "mentoring.kind"),
    ("meeting", DAY + timedelta(days=1), 60, "", "mentoring.activity_in_future"),
    ("meeting", DAY - timedelta(days=11), 60, "", "mentoring.before_period"),
    ("meeting", DAY, 0, "", "mentoring.hours"),
    ("meeting", DAY, 24 * 60 + 1, "", "mentoring.hours"),
    ("meeting", DAY, 60, "x" * 501, "mentoring.note_too_long"),
])
def test_what_an_activity_may_not_be(kind: str, done_on: date, minutes: int, note: str, reason: str) -> None:
    with pytest.raises(BadRequest) as err:
        model.check_activity(kind, done_on, minutes, note, starts_on=DAY - timedelta(days=10), today=DAY)
    assert err.value.reason == reason


def test_an_activity_within_the_period() -> None:
    for kind in model.ACTIVITY_KINDS:
        model.check_activity(kind, DAY - timedelta(days=10), 15, "", starts_on=DAY - timedelta(days=10), today=DAY)


def test_an_early_end_needs_its_reason() -> None:
    model.check_outcome("completed", "")
    model.check_outcome("ended_early", "Moved away")
    for outcome, reason, code in (("ended_early", " ", "mentoring.why"), ("gone", "", "mentoring.outcome")):
        with pytest.raises(BadRequest) as err:
            model.check_outcome(outcome, reason)
        assert err.value.reason == code


def test_the_first_day_of_an_assignment_from_before_periods_is_the_day_it_was_made() -> None:
    assert model.starts_on_of(SimpleNamespace(starts_on=None, created_at=MIDNIGHT)) == date(2026, 4, 1)
    assert model.starts_on_of(SimpleNamespace(starts_on=DAY, created_at=MIDNIGHT)) == DAY


def test_a_mentoring_conversation_after_its_period(policies: PolicySet) -> None:
    evaluate = PolicyEngine(policies).evaluate
    row = SimpleNamespace(kind="mentoring", access_ends_at=MIDNIGHT)
    before, after = MIDNIGHT - timedelta(seconds=1), MIDNIGHT
    model.refuse_after_period(evaluate, MENTOR, row, "write_mentoring", before)
    model.refuse_after_period(evaluate, MENTEE, row, "read_mentoring", after)  # the mentee keeps reading
    for actor, action in ((MENTOR, "read_mentoring"), (MENTOR, "write_mentoring"), (MENTEE, "write_mentoring")):
        with pytest.raises(PolicyRefused) as err:
            model.refuse_after_period(evaluate, actor, row, action, after)
        assert (err.value.rule_id, err.value.reason) == ("mentoring_period_ended", "mentoring_period_ended.ended")
    # Other conversations, and mentoring ones with no end, are not refused by it.
    assert model.conversation_decision(evaluate, MENTOR, SimpleNamespace(kind="case", access_ends_at=None),
                                       "write_mentoring", after) is None
    open_ended = SimpleNamespace(kind="mentoring", access_ends_at=None)
    decision = model.conversation_decision(evaluate, MENTOR, open_ended, "read_mentoring", after)
    assert decision is not None and decision.allowed
