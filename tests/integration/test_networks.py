"""Case networks (TUKO, issue 16) on SQLite and PostgreSQL: the four stages to closure through the
service, who may see a network and until when, victim protection, plan versions, overdue tasks,
encryption at rest under the network_records category and audited reads."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select

from server.errors import IllegalTransition, NotFound, OutOfScope, PolicyRefused
from server.identity.model import Actor, Role
from server.networks.machine import TaskDraft
from server.store.schema import audit_log, conversation_members, conversations, data_keys, network_members, networks
from server.web.state import Services
from tests.helpers.world import PASSWORD, World, build

ANSWERS = {"under_threat": "The ex-partner and her son", "harm_likelihood": "High when he drinks",
           "protective_factors": "Steady work; attends the group"}


async def partner(services: Services, w: World, username: str) -> Actor:
    uid = await services.identity.create_user(None, username=username, display_name=username.title(),
                                              role=Role.PARTNER, office_id=None, password=PASSWORD)
    w.users[username] = uid
    w.actors[username] = Actor(uid, username, username.title(), Role.PARTNER, None, "en", False)
    return w.actors[username]


def day(services: Services, n: int) -> date:
    return services.clock.now().date() + timedelta(days=n)


async def rows(services: Services, table: Any, *where: Any) -> list[Any]:
    async with services.store.read("t") as conn:
        return list((await conn.execute(select(table).where(*where))).all())


async def count(services: Services, table: Any, *where: Any) -> int:
    async with services.store.read("t") as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


async def flagged_case(services: Services, w: World, username: str, *, protected_person: bool = False,
                       domestic_violence: bool = False) -> tuple[str, Actor]:
    """A new case of the world's officer with these flags: (case id, its client)."""
    made = await services.cases.create_case(w.actor("senior"), client_username=username,
                                            client_display_name=username.title(), officer_id=w.users["officer"],
                                            password=PASSWORD, protected_person=protected_person,
                                            domestic_violence=domestic_violence)
    return made.case_id, Actor(made.client_id, username, username.title(), Role.CLIENT, None, "en", False)


async def to_a_plan(services: Services, w: World) -> tuple[str, Actor, Actor, Actor]:
    """A network on ``own`` with police and social work, through stages 1 and 2 to a sent plan."""
    nets, case = services.networks, w.cases["own"]
    officer, police, social = w.actor("officer"), await partner(services, w, "police"), \
        await partner(services, w, "social")
    await nets.raise_concern(officer, case, noticed="Threatening calls to the ex-partner", noticed_by="Victim support")
    for who, agency in ((police, "Police"), (social, "Municipal social work")):
        await nets.invite_member(officer, case, user_id=who.user_id, agency=agency, ends_on=day(services, 60))
    await nets.schedule_meeting(officer, case, starts_at=services.clock.now() + timedelta(days=2), mode="video")
    await nets.record_view(police, case, answers=ANSWERS)
    await nets.record_view(social, case, answers={"needs_motivation": "Wants to keep his job"})
    await nets.record_assessment(officer, case, answers=ANSWERS, decision="plan")
    await nets.write_plan(officer, case, tasks=[
        TaskDraft("Check the restraining order is respected", police.user_id, day(services, 3)),
        TaskDraft("Offer a place in the anger-management group", social.user_id, day(services, 14))],
        next_meeting_at=services.clock.now() + timedelta(days=14), keep_in_touch="A call every Monday")
    await nets.send_plan(officer, case)
    return case, officer, police, social


async def test_the_four_stages_to_closure_and_again(api: Any) -> None:
    _, services = api
    w = await build(services)
    nets = services.networks
    case, officer, police, social = await to_a_plan(services, w)
    seen = await nets.read(police, case)
    assert seen["stage"] == "coordinated_case_management" and len(seen["processes"]) == 1
    shared = seen["processes"][0]
    assert shared["plans"][0]["version"] == 1 and "draft" not in shared
    assert [v["by"] for v in shared["views"]] == [police.user_id, social.user_id]
    await nets.acknowledge_plan(police, case, version=1)
    await nets.mark_task(police, case, task_id="t1", state="done", note="Checked with the court on Tuesday")
    with pytest.raises(PolicyRefused) as refused:
        await nets.mark_task(social, case, task_id="t1", state="blocked", note="?")
    assert refused.value.rule_id == "task_owner_only"
    with pytest.raises(PolicyRefused) as refused:
        await nets.close(police, case, conclusion="Done")
    assert refused.value.rule_id == "network_case_leader_only"
    # Members are in the network conversation while the process runs.
    (conv,) = await rows(services, conversations, conversations.c.case_id == case, conversations.c.kind == "network")
    active = {r.user_id for r in await rows(services, conversation_members, conversation_members.c.conversation_id
                                            == conv.id, conversation_members.c.left_at.is_(None))}
    assert {police.user_id, social.user_id, officer.user_id} <= active
    assert [n["case_id"] for n in await nets.my_networks(police)] == [case]

    await nets.close(officer, case, conclusion="Risks reduced: no contact for three months, group attended")
    for who in (police, social):
        with pytest.raises(PolicyRefused) as refused:
            await nets.read(who, case)
        assert refused.value.rule_id == "network_access_ended"
    assert await nets.my_networks(police) == []
    ended = {r.user_id for r in await rows(services, network_members, network_members.c.case_id == case,
                                           network_members.c.ended_at.is_not(None))}
    assert ended == {police.user_id, social.user_id}
    left = {r.user_id for r in await rows(services, conversation_members, conversation_members.c.conversation_id
                                          == conv.id, conversation_members.c.left_at.is_not(None))}
    assert left == {police.user_id, social.user_id}

    # Raised again: stage 1 of a second process; the first stays, for the case leader.
    await nets.raise_concern(officer, case, noticed="He moved back to the shared flat", noticed_by="Police")
    await nets.invite_member(officer, case, user_id=police.user_id, agency="Police", ends_on=day(services, 30))
    assert [p["number"] for p in (await nets.read(officer, case))["processes"]] == [1, 2]
    assert [p["number"] for p in (await nets.read(police, case))["processes"]] == [2]
    with pytest.raises(PolicyRefused) as refused:
        await nets.read(social, case)  # not invited again
    assert refused.value.rule_id == "network_member_only"
    (row,) = await rows(services, networks, networks.c.case_id == case)
    assert (row.process, row.stage, row.revision) == (2, "notice_and_inform", 14)  # one revision per step taken


async def test_partners_outside_the_network_and_after_their_end_date(api: Any) -> None:
    _, services = api
    w = await build(services)
    nets = services.networks
    case, officer, police, _ = await to_a_plan(services, w)
    outsider = await partner(services, w, "outsider")
    with pytest.raises(OutOfScope):  # never a member, no relation to the case: as if it did not exist
        await nets.read(outsider, case)
    with pytest.raises(OutOfScope):
        await nets.raise_concern(outsider, case, noticed="x", noticed_by="y")
    with pytest.raises(OutOfScope):
        await nets.read(w.actor("officer3"), case)  # another office's officer
    with pytest.raises(PolicyRefused) as refused:
        await nets.read(w.actor("mentor"), case)  # knows the case, is not in its network
    assert refused.value.rule_id == "network_member_only"
    with pytest.raises(NotFound):
        await nets.invite_member(officer, case, user_id=w.users["mentor"], agency="NGO", ends_on=day(services, 5))

    services.clock.advance(timedelta(days=60))  # the last day: still in
    assert (await nets.read(police, case))["stage"] == "coordinated_case_management"
    services.clock.advance(timedelta(days=1))
    with pytest.raises(PolicyRefused) as refused:
        await nets.read(police, case)
    assert refused.value.rule_id == "network_access_ended"
    with pytest.raises(PolicyRefused) as refused:
        await nets.raise_concern(police, case, noticed="x", noticed_by="y")
    assert refused.value.rule_id == "network_access_ended"
    assert await nets.my_networks(police) == []
    # The case leader extends it by inviting again.
    await nets.invite_member(officer, case, user_id=police.user_id, agency="Police", ends_on=day(services, 30))
    assert (await nets.read(police, case))["stage"] == "coordinated_case_management"


async def test_victim_protection_keeps_the_client_out_unless_recorded_safe(api: Any) -> None:
    _, services = api
    w = await build(services)
    nets, officer = services.networks, w.actor("officer")
    case, client = await flagged_case(services, w, "client_p", protected_person=True)
    await nets.raise_concern(officer, case, noticed="Contact with the protected person", noticed_by="Officer")
    with pytest.raises(PolicyRefused) as refused:
        await nets.invite_member(officer, case, user_id=client.user_id, agency="Client", ends_on=day(services, 30))
    assert refused.value.rule_id == "victim_protection"
    await nets.invite_member(officer, case, user_id=client.user_id, agency="Client", ends_on=day(services, 30),
                             safety_reason="The protected person moved abroad; the client takes part in planning")
    seen = await nets.read(client, case)
    process = seen["processes"][0]
    assert "concerns" not in process and "views" not in process and "assessment" not in process
    assert "safety_reason" not in process["members"][0]
    lead = (await nets.read(officer, case))["processes"][0]
    assert lead["members"][0]["safety_reason"].startswith("The protected person")
    # Without the flag, the client joins like anyone else; the world's own case has none.
    await nets.raise_concern(officer, w.cases["own"], noticed="x", noticed_by="y")
    await nets.invite_member(officer, w.cases["own"], user_id=w.clients["own"], agency="Client",
                             ends_on=day(services, 30))
    assert (await nets.read(w.actor("client"), w.cases["own"]))["stage"] == "notice_and_inform"
    assert [n["case_id"] for n in await nets.my_networks(w.actor("client"))] == [w.cases["own"]]
    assert [n["case_id"] for n in await nets.my_networks(client)] == [case]


async def test_a_client_kept_out_by_victim_protection_is_not_listed(api: Any) -> None:
    """A flag that comes to keep the client out after they joined does so from that moment (here
    the policy starts counting domestic violence): their list of networks no longer names the
    case, and opening it is refused by the rule."""
    _, services = api
    w = await build(services)
    nets, officer = services.networks, w.actor("officer")
    case, client = await flagged_case(services, w, "client_dv", domestic_violence=True)
    await nets.raise_concern(officer, case, noticed="x", noticed_by="y")
    await nets.invite_member(officer, case, user_id=client.user_id, agency="Client", ends_on=day(services, 30))
    assert [n["case_id"] for n in await nets.my_networks(client)] == [case]
    config = msgspec.to_builtins(services.policy.engine.policies.config("networks"))
    await services.policy.change_rule(w.actor("admin"), "networks", config | {
        "victim_protection_flags": ["protected_person", "domestic_violence"]}, "domestic violence counts too")
    assert await nets.my_networks(client) == []
    with pytest.raises(PolicyRefused) as refused:
        await nets.read(client, case)
    assert refused.value.rule_id == "victim_protection"


async def test_plan_versions_stay_readable_and_overdue_tasks_are_listed(api: Any) -> None:
    _, services = api
    w = await build(services)
    nets = services.networks
    case, officer, police, social = await to_a_plan(services, w)
    assert await nets.follow_up(officer) == []
    services.clock.advance(timedelta(days=4))
    overdue = await nets.follow_up(officer)
    assert [(t["case_id"], t["id"], t["owner_id"], t["due_on"]) for t in overdue] == [
        (case, "t1", police.user_id, day(services, -1).isoformat())]
    assert (overdue[0]["client_name"], overdue[0]["owner_agency"]) == ("Client", "Police")  # for the screen
    assert [t["id"] for t in await nets.follow_up(w.actor("senior"))] == ["t1"]  # the office's senior too
    assert await nets.follow_up(w.actor("officer2")) == []  # not their case
    with pytest.raises(PolicyRefused):
        await nets.follow_up(police)
    assert [t["id"] for t in (await nets.read(officer, case))["overdue"]] == ["t1"]
    await nets.mark_task(police, case, task_id="t1", state="done", note="Done, a week late")
    assert await nets.follow_up(officer) == []

    await nets.revise_plan(officer, case, tasks=[
        TaskDraft("Visit the family with child protection", social.user_id, day(services, 7))],
        next_meeting_at=services.clock.now() + timedelta(days=10), keep_in_touch="A call every Monday")
    versions = await nets.plan_versions(social, case)
    assert [v["version"] for v in versions] == [1, 2]
    assert [t["state"] for t in versions[0]["tasks"]] == ["done", "open"]  # version 1 as it was
    assert [t["text"] for t in versions[1]["tasks"]] == ["Visit the family with child protection"]
    with pytest.raises(IllegalTransition) as stale:
        await nets.acknowledge_plan(police, case, version=1)
    assert stale.value.rule_id == "network_stage"
    await nets.acknowledge_plan(police, case, version=2)
    # Each sent version as a PDF, to every member and the case leader; a version never sent is not found.
    version, pdf = await nets.plan_pdf(police, case)
    assert version == 2 and pdf.startswith(b"%PDF-1.4") and b"Visit the family with child protection" in pdf
    version, pdf = await nets.plan_pdf(officer, case, version=1)
    assert version == 1 and b"Check the restraining order is respected" in pdf
    with pytest.raises(NotFound):
        await nets.plan_pdf(social, case, version=3)


async def test_records_are_encrypted_under_network_records_and_every_read_is_audited(api: Any) -> None:
    _, services = api
    w = await build(services)
    nets = services.networks
    case, officer, police, _ = await to_a_plan(services, w)
    (row,) = await rows(services, networks, networks.c.case_id == case)
    assert b"restraining order" not in row.body and b"Threatening" not in row.body
    (key,) = await rows(services, data_keys, data_keys.c.id == row.key_id)
    assert (key.case_id, key.category) == (case, "network_records")
    before = await count(services, audit_log, audit_log.c.action == "network.read", audit_log.c.case_id == case)
    await nets.read(police, case)
    await nets.read(officer, case)
    await nets.follow_up(officer)
    after = await count(services, audit_log, audit_log.c.action == "network.read", audit_log.c.case_id == case)
    assert after - before == 3
    steps = [r.action for r in sorted(await rows(services, audit_log, audit_log.c.case_id == case,
                                                 audit_log.c.action.like("network.%")), key=lambda r: r.seq)
             if r.action != "network.add"]  # the world's own member, added the old way
    assert steps[:4] == ["network.raise_concern", "network.invite_member", "network.invite_member",
                         "network.schedule_meeting"]
    # Shredding the bucket takes the network's records with it.
    async with services.store.write("t") as conn:
        await services.keyring.shred(conn, case_id=case, category="network_records", bucket=key.bucket,
                                     at=services.clock.now())
    with pytest.raises(NotFound):
        await nets.read(officer, case)
