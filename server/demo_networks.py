"""Demo case networks (issue 16, TUKO): one case in each of the four stages, so a newcomer sees
them all after ``make serve``. Built through the network's own action functions.

The case in coordinated case management had its plan sent three weeks ago, so one of its tasks
is overdue and on the officer's follow-up list: those steps are taken by a service whose clock
runs three weeks behind (the records carry the dates they would have had), the rest now.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from server.clock import Clock
from server.identity.model import Actor, Role
from server.networks.machine import TaskDraft
from server.networks.service import NetworkService

PARTNERS = (("police", "Pille Police", "Police"), ("social", "Sirje Social", "Municipal social work"))


class _Earlier:
    """The demo's clock, ``behind`` earlier."""

    def __init__(self, clock: Clock, behind: timedelta) -> None:
        self.clock, self.behind = clock, behind

    def now(self) -> datetime:
        return self.clock.now() - self.behind

    def monotonic(self) -> float:
        return self.clock.monotonic()


async def load(networks: NetworkService, clock: Clock, officer: Actor, partners: dict[str, str],
               cases: dict[str, tuple[str, str]]) -> None:
    """``partners``: username -> user id (see ``PARTNERS``); ``cases``: stage -> (case id,
    client id) for notice_and_inform, share_and_evaluate, make_a_plan and
    coordinated_case_management."""
    police, social = partners["police"], partners["social"]
    actor = {uid: Actor(uid, name, name, Role.PARTNER, None, "en", False) for name, uid in partners.items()}
    agency = {police: PARTNERS[0][2], social: PARTNERS[1][2]}

    async def gather(service: NetworkService, case_id: str, noticed: str, noticed_by: str,
                     members: tuple[str, ...]) -> None:
        now = service.clock.now()
        await service.raise_concern(officer, case_id, noticed=noticed, noticed_by=noticed_by)
        for user_id in members:
            await service.invite_member(officer, case_id, user_id=user_id, agency=agency[user_id],
                                        ends_on=(now + timedelta(days=120)).date())

    # 1. Notice and inform: a concern raised, the police invited.
    case_id, _ = cases["notice_and_inform"]
    await gather(networks, case_id, "Neighbours called the police twice this month about shouting at night.",
                 "Police", (police,))

    # 2. Share and evaluate: a video meeting the day after tomorrow; the police gave their view; the
    # client takes part (no victim-protection flag on this case).
    case_id, client_id = cases["share_and_evaluate"]
    await gather(networks, case_id, "He told his officer he had been following his former partner.",
                 "Supervising officer", (police, social))
    await networks.invite_member(officer, case_id, user_id=client_id, agency="Client",
                                 ends_on=(clock.now() + timedelta(days=120)).date())
    soon = clock.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    await networks.schedule_meeting(officer, case_id, starts_at=soon, mode="video")
    await networks.record_view(actor[police], case_id, answers={
        "under_threat": "His former partner.", "risk_factors": "Drinking; the end of the restraining order."})

    # 3. Make a plan: met in person, assessed; the plan is still the officer's draft.
    case_id, _ = cases["make_a_plan"]
    await gather(networks, case_id, "Threatening messages to his sister after a family quarrel.", "Victim support",
                 (police, social))
    await networks.schedule_meeting(officer, case_id, starts_at=clock.now() + timedelta(days=1), mode="in_person",
                                    place="Demo Probation Office, room 2")
    await networks.record_assessment(officer, case_id, decision="plan", answers={
        "under_threat": "His sister.", "harm_likelihood": "Moderate; higher when he has been drinking.",
        "protective_factors": "Steady work; wants to keep contact with his children."})
    await networks.write_plan(officer, case_id, tasks=[
        TaskDraft(text="Agree a safety plan with his sister", owner_id=social,
                  due_on=(clock.now() + timedelta(days=14)).date())],
        next_meeting_at=clock.now() + timedelta(days=21), keep_in_touch="The network conversation in Tandem")

    # 4. Coordinated case management: the plan was sent three weeks ago; the police's task is overdue.
    case_id, _ = cases["coordinated_case_management"]
    earlier = NetworkService(networks.store, _Earlier(clock, timedelta(days=21)), networks.keyring, networks.cases,
                             networks.policy)
    then = earlier.clock.now()
    await gather(earlier, case_id, "She reported him at her door despite the restraining order.", "Police",
                 (police, social))
    await earlier.schedule_meeting(officer, case_id, starts_at=then + timedelta(hours=2), mode="in_person",
                                   place="Demo Probation Office, room 2")
    await earlier.record_assessment(officer, case_id, decision="plan", answers={
        "under_threat": "His former partner and their son.", "harm_likelihood": "High.",
        "threat_nature": "Jealousy; more likely at weekends and when the son is handed over."})
    await earlier.write_plan(officer, case_id, crisis=True, tasks=[
        TaskDraft(text="Check that the restraining order is respected", owner_id=police,
                  due_on=(then + timedelta(days=7)).date()),
        TaskDraft(text="Arrange handovers of the son through the family centre", owner_id=social,
                  due_on=(then + timedelta(days=10)).date()),
        TaskDraft(text="Weekly supervision meeting about the handovers", owner_id=officer.user_id,
                  due_on=(then + timedelta(days=3)).date())],
        next_meeting_at=then + timedelta(days=28), keep_in_touch="A call every Monday; the network conversation")
    await earlier.send_plan(officer, case_id)
    await networks.acknowledge_plan(actor[social], case_id, version=1)
    await networks.mark_task(actor[social], case_id, task_id="t2", state="done",
                             note="The family centre takes the handovers from next week.")
    await networks.mark_task(officer, case_id, task_id="t3", state="done", note="Met on Tuesdays since.")
