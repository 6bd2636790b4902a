"""The evaluation decrypts nothing (issue 16, section 3: an evaluator never sees case data):
every figure is computed from metadata kept in clear. A service given a keyring that opens no
key (another key-encryption key) computes the same figures as the node's own; "tasks overdue"
comes from ``network_tasks``, kept in step with the sealed plan on every write (sent, revised,
tasks done or blocked, closed) and filled at start for plans written before it existed."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from server.crypto.envelope import DecryptionFailed
from server.crypto.keyring import Keyring
from server.evaluation.service import EvaluationService
from server.identity.model import Actor, Role
from server.networks import store as network_store
from server.networks.machine import TaskDraft
from server.store.schema_networks import network_tasks
from server.web.state import Services
from tests.helpers.world import PASSWORD, World
from tests.integration.test_evaluation import seed_month

MONTH = "2026-01"


async def _cells(evaluation: EvaluationService, actor: Any, **filters: str) -> dict[str, Any]:
    board = await evaluation.dashboard(actor, first=MONTH, last=MONTH, **filters)
    return {f.id: {s.key: s.cells for s in f.series} for f in board.figures}


async def _tasks(services: Services) -> list[Any]:
    async with services.store.read("test.tasks") as conn:
        return list((await conn.execute(select(network_tasks).order_by(network_tasks.c.case_id,
                                                                       network_tasks.c.task_id))).all())


async def _networks(services: Services, w: World) -> None:
    """a1..a6 each in a network in stage 4, two tasks each due in a week; a6's stays in stage 1."""
    officer, networks, clock = w.actor("officer"), services.networks, services.clock
    for name in ("a1", "a2", "a3", "a4", "a5", "a6"):
        case_id = w.cases[name]
        await networks.raise_concern(officer, case_id, noticed="Threats to a neighbour", noticed_by="Police")
        if name == "a6":
            continue
        await networks.schedule_meeting(officer, case_id, starts_at=clock.now() + timedelta(days=1), mode="video")
        await networks.record_assessment(officer, case_id, answers={"under_threat": "A neighbour"}, decision="plan")
        due = clock.now().date() + timedelta(days=7)
        await networks.write_plan(officer, case_id, tasks=[
            TaskDraft(text="Check the housing", owner_id=officer.user_id, due_on=due),
            TaskDraft(text="Call the school", owner_id=officer.user_id, due_on=due + timedelta(days=30))],
            next_meeting_at=clock.now() + timedelta(days=2), keep_in_touch="Phone")
        await networks.send_plan(officer, case_id)


@pytest.mark.parametrize("who", ["evaluator", "senior"])
async def test_every_figure_with_a_keyring_that_opens_nothing(api: Any, who: str) -> None:
    _client, services = api
    seeded = await seed_month(services)
    w: World = seeded["w"]
    await _networks(services, w)
    officer = w.actor("officer")
    services.clock.advance(timedelta(days=9))  # every first task is overdue
    await services.networks.mark_task(officer, w.cases["a1"], task_id="t1", state="done", note="Done")
    await services.networks.mark_task(officer, w.cases["a2"], task_id="t1", state="blocked", note="Waiting")
    await services.networks.close(officer, w.cases["a3"], conclusion="Risk is down")
    if who == "evaluator":
        user_id = await services.identity.create_user(None, username="eva", display_name="Eva", role=Role.EVALUATOR,
                                                      office_id=w.offices["A"], password=PASSWORD)
        actor = Actor(user_id, "eva", "Eva", Role.EVALUATOR, w.offices["A"], "en", False)
    else:
        actor = w.actor("senior")

    blind = EvaluationService(services.store, services.clock, Keyring(os.urandom(32)), services.checkins)
    async with services.store.read("test.blind") as conn:  # it really opens nothing
        net = await network_store.network_of_case(conn, w.cases["a4"])
        with pytest.raises(DecryptionFailed):
            await blind.keyring.decrypt(conn, key_id=net.key_id, blob=net.body,
                                        aad=network_store.body_aad(net.id, net.case_id))
    for filters in ({}, {"language": "fi"}, {"language": "ro"}, {"channel": "video"}, {"digital": "low"}):
        seen = await _cells(blind, actor, **filters)
        assert seen == await _cells(services.evaluation, actor, **filters), filters
    cells = await _cells(blind, actor)
    assert len(cells) == 11  # every figure
    # a1's overdue task is done, a3's process is closed: a2 (blocked), a4 and a5 are left.
    assert cells["network_overdue"] == {"tasks": ["fewer than 5"]}
    assert cells["network_stages"]["coordinated_case_management"] == ["fewer than 5"]
    assert cells["feedback_client"] == {"happy": [5], "neutral": [0], "unhappy": [0]}
    assert cells["appointments"]["attended"] == [5 if who == "senior" else 6]


async def test_network_tasks_follow_the_plan_and_are_filled_at_start(api: Any) -> None:
    _client, services = api
    seeded = await seed_month(services)
    w: World = seeded["w"]
    await _networks(services, w)
    officer, clock = w.actor("officer"), services.clock
    rows = await _tasks(services)
    assert len(rows) == 10 and {r.state for r in rows} == {"open"} and {r.plan_version for r in rows} == {1}
    assert {r.owner_id for r in rows} == {officer.user_id}
    assert not {"text", "note"} & set(network_tasks.c.keys())  # no free text in clear

    # Five cases with an overdue task each: shown as 5; done and blocked follow the document.
    clock.advance(timedelta(days=9))
    blind = EvaluationService(services.store, clock, Keyring(os.urandom(32)), services.checkins)
    senior = w.actor("senior")
    assert (await _cells(blind, senior))["network_overdue"] == {"tasks": [5]}
    await services.networks.mark_task(officer, w.cases["a1"], task_id="t1", state="done", note="Done")
    await services.networks.mark_task(officer, w.cases["a2"], task_id="t1", state="blocked", note="Waiting")
    states = {(r.case_id, r.task_id): r.state for r in await _tasks(services)}
    assert states[(w.cases["a1"], "t1")] == "done" and states[(w.cases["a2"], "t1")] == "blocked"
    # A revised plan replaces the rows; closing the process removes them.
    await services.networks.revise_plan(officer, w.cases["a4"], tasks=[
        TaskDraft(text="One task only", owner_id=officer.user_id, due_on=clock.now().date() + timedelta(days=3))],
        next_meeting_at=clock.now() + timedelta(days=2), keep_in_touch="Phone")
    a4 = [r for r in await _tasks(services) if r.case_id == w.cases["a4"]]
    assert [(r.task_id, r.plan_version, r.state) for r in a4] == [("t1", 2, "open")]
    await services.networks.close(officer, w.cases["a5"], conclusion="Done")
    assert not [r for r in await _tasks(services) if r.case_id == w.cases["a5"]]
    # a2 (blocked) and a3 are overdue now: fewer than 5 cases.
    blind = EvaluationService(services.store, clock, Keyring(os.urandom(32)), services.checkins)
    assert (await _cells(blind, senior))["network_overdue"] == {"tasks": ["fewer than 5"]}

    # Plans written before the table existed: filled when the server starts, once.
    before = {(r.case_id, r.task_id, r.plan_version, r.state, r.due_on) for r in await _tasks(services)}
    async with services.store.write("test.forget") as conn:
        await conn.execute(delete(network_tasks))
    assert await services.networks.index_tasks(batch=2) == 4  # a1..a4 (a5's process is closed)
    assert {(r.case_id, r.task_id, r.plan_version, r.state, r.due_on) for r in await _tasks(services)} == before
    assert await services.networks.index_tasks() == 0
    blind = EvaluationService(services.store, clock, Keyring(os.urandom(32)), services.checkins)
    assert (await _cells(blind, senior))["network_overdue"] == {"tasks": ["fewer than 5"]}
