"""Demo data: one office, one user per role, five clients with the flags the CEP
rules act on, a mentoring period about to end and a case network in each TUKO stage
(``demo_networks.py``). Built through the same action functions as production data. Demo
accounts are marked ``is_demo``; the server refuses them outside demo mode.

Eight more clients (no sign-in) carry a month of check-in history for the evaluation figures
(issue 16), and a month of a programme group (four sessions, their registers and answers to
"How did this go?" from participants and the facilitator), written as the action functions
would have written them: they refuse the past (``server/evaluation/history.py``,
``group_history.py``). A second office, with its own officer, senior and six clients (none of
them can sign in), has a month of history too: the evaluator sees both
offices, the demo senior only their own."""

from __future__ import annotations

from datetime import timedelta

from server import demo_networks
from server.cases.service import CaseService
from server.clock import Clock
from server.crypto.keyring import Keyring
from server.evaluation import group_history, history
from server.groups.service import GroupService
from server.identity import store as identity_store
from server.identity.model import Actor, Role
from server.identity.service import IdentityService
from server.mentoring.service import MentoringService
from server.networks.service import NetworkService
from server.scheduling.model import Kind
from server.scheduling.service import NewAppointment, SchedulingService

PASSWORD = "tandem-demo"  # noqa: S105 - demo accounts only work in demo mode
STAFF = (
    ("admin", "Aino Admin", Role.ADMIN),
    ("senior", "Sanna Senior", Role.SENIOR_OFFICER),
    ("officer", "Olli Officer", Role.OFFICER),
    ("facilitator", "Fiona Facilitator", Role.FACILITATOR),
    ("mentor", "Mihai Mentor", Role.MENTOR),
    ("interpreter", "Irina Interpreter", Role.INTERPRETER),  # Romanian, for client3's check-ins
    ("evaluator", "Eeva Evaluator", Role.EVALUATOR),  # every office's figures, no case data (issue 16)
)
#: The history clients: (username, name, language, low digital access).
HISTORY = (
    ("history1", "Aivar Tamm", "et", False), ("history2", "Mari Kask", "et", True),
    ("history3", "Jussi Virtanen", "fi", False), ("history4", "Anna Korhonen", "fi", False),
    ("history5", "Pekka Mäkinen", "fi", True), ("history6", "Elena Popescu", "ro", False),
    ("history7", "Andrei Ionescu", "ro", True), ("history8", "Tom Baker", "en", False),
)
NORTH = (
    ("north1", "Kaisa Laine", "fi", False), ("north2", "Ville Nieminen", "fi", True),
    ("north3", "Tiina Heikkinen", "fi", False), ("north4", "Kristjan Saar", "et", False),
    ("north5", "Ana Dumitru", "ro", False), ("north6", "Oskari Lehto", "fi", False),
)


async def load(identity: IdentityService, cases: CaseService, clock: Clock, groups: GroupService | None = None,
               scheduling: SchedulingService | None = None, mentoring: MentoringService | None = None,
               keyring: Keyring | None = None, networks: NetworkService | None = None) -> bool:
    """Create the demo world; False when it already exists."""
    async with identity.store.read("demo.check") as conn:
        if await identity_store.user_by_username(conn, "admin") is not None:
            return False
    office = await identity.create_office(None, "Demo Probation Office")
    ids: dict[str, str] = {}
    for username, name, role in STAFF:
        ids[username] = await identity.create_user(
            None, username=username, display_name=name, role=role, office_id=office, password=PASSWORD, is_demo=True
        )
    senior = Actor(ids["senior"], "senior", "Sanna Senior", Role.SENIOR_OFFICER, office, "en", False)
    officer = Actor(ids["officer"], "officer", "Olli Officer", Role.OFFICER, office, "en", False)
    c1 = await cases.create_case(
        senior,
        client_username="client1",
        client_display_name="Kalle Client",
        officer_id=ids["officer"],
        password=PASSWORD,
        is_demo=True,
    )
    c2 = await cases.create_case(
        senior,
        client_username="client2",
        client_display_name="Liis Client",
        officer_id=ids["officer"],
        domestic_violence=True,
        protected_person=True,
        password=PASSWORD,
        is_demo=True,
    )
    c3 = await cases.create_case(
        senior,
        client_username="client3",
        client_display_name="Ion Client",
        officer_id=ids["officer"],
        low_digital_access=True,
        interpreter_needed=True,
        language="ro",
        locale="ro",
        password=PASSWORD,
        is_demo=True,
    )
    # Two more clients on domestic-violence cases, for the case networks (issue 16).
    c4, c5 = [await cases.create_case(senior, client_username=username, client_display_name=name,
                                      officer_id=ids["officer"], domestic_violence=True, password=PASSWORD,
                                      is_demo=True)
              for username, name in (("client4", "Marta Client"), ("client5", "Andres Client"))]
    await cases.record_face_to_face(
        officer, c1.case_id, met_at=clock.now() - timedelta(days=7), location="Demo Probation Office, room 2"
    )
    # A mentoring period about to end (issue 16): eight months, five days left, a few activities.
    today = clock.now().date()
    made = await cases.assign_mentor(officer, mentor_id=ids["mentor"], client_id=c1.client_id,
                                     starts_on=today - timedelta(days=235), ends_on=today + timedelta(days=5))
    if mentoring is not None:
        mentor = Actor(ids["mentor"], "mentor", "Mihai Mentor", Role.MENTOR, office, "en", False)
        for days_ago, kind, minutes, note in (
                (200, "meeting", 90, "First meeting at the community centre; talked about what he wants from this."),
                (120, "court_conditions", 120, "Went with him to the community work office to agree his hours."),
                (45, "debts", 60, "Helped him write to the electricity company about a payment plan."),
                (6, "family", 45, "")):
            await mentoring.record_activity(mentor, made.id, kind=kind, done_on=today - timedelta(days=days_ago),
                                            minutes=minutes, note=note)
    if groups is not None:
        facilitator = Actor(ids["facilitator"], "facilitator", "Fiona Facilitator", Role.FACILITATOR, office, "en",
                            False)
        cohort = await groups.create_cohort(facilitator, name="Tuesday evening", programme="Thinking Skills")
        for case in (c1, c2):
            await groups.enrol(facilitator, cohort, case.case_id)
    if scheduling is not None:
        # A video check-in with client1 (met face to face) that opens in a few minutes, and an
        # in-person appointment with client2 next week (their first meeting, so no video yet).
        soon = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
        await scheduling.create(officer, c1.case_id, NewAppointment(kind=Kind.VIDEO, starts_at=soon,
                                                                    ends_at=soon + timedelta(minutes=30)))
        week = soon + timedelta(days=7)
        await scheduling.create(officer, c2.case_id, NewAppointment(
            kind=Kind.IN_PERSON, starts_at=week, ends_at=week + timedelta(hours=1),
            location="Demo Probation Office, room 2"))
    if networks is not None:
        partners = {username: await identity.create_user(None, username=username, display_name=name,
                                                         role=Role.PARTNER, office_id=None, password=PASSWORD,
                                                         is_demo=True)
                    for username, name, _ in demo_networks.PARTNERS}
        await demo_networks.load(networks, clock, officer, partners, {
            "notice_and_inform": (c3.case_id, c3.client_id), "share_and_evaluate": (c4.case_id, c4.client_id),
            "make_a_plan": (c5.case_id, c5.client_id),
            "coordinated_case_management": (c2.case_id, c2.client_id)})
    if keyring is not None:
        history_cases = [await cases.create_case(senior, client_username=username, client_display_name=name,
                                        officer_id=ids["officer"], language=language, low_digital_access=low,
                                        locale=language, is_demo=True)
                for username, name, language, low in HISTORY]
        await history.load(identity.store, keyring, cases=history_cases, officer_id=ids["officer"], office_id=office,
                           now=clock.now())
        if groups is not None:
            # Their month of a programme group too: four sessions, registers, "How did this go?".
            facilitator = Actor(ids["facilitator"], "facilitator", "Fiona Facilitator", Role.FACILITATOR, office,
                                "en", False)
            thursday = await groups.create_cohort(facilitator, name="Thursday afternoon", programme="Thinking Skills")
            for case in history_cases:
                await groups.enrol(facilitator, thursday, case.case_id)
            await group_history.load(identity.store, keyring, cohort_id=thursday, office_id=office,
                                     facilitator_id=ids["facilitator"], now=clock.now(),
                                     participants=[group_history.Participant(c.case_id, c.client_id)
                                                   for c in history_cases])
        await _north(identity, cases, clock, keyring)
    return True


async def _north(identity: IdentityService, cases: CaseService, clock: Clock, keyring: Keyring) -> None:
    """The second office: staff and clients who cannot sign in, and their month of history."""
    north = await identity.create_office(None, "Demo North Office")
    staff = {}
    for username, name, role in (("north_senior", "Niina North", Role.SENIOR_OFFICER),
                                 ("north_officer", "Nils North", Role.OFFICER)):
        staff[username] = await identity.create_user(None, username=username, display_name=name, role=role,
                                                     office_id=north, password=None, is_demo=True)
    senior = Actor(staff["north_senior"], "north_senior", "Niina North", Role.SENIOR_OFFICER, north, "en", False)
    made = [await cases.create_case(senior, client_username=username, client_display_name=name,
                                    officer_id=staff["north_officer"], language=language, low_digital_access=low,
                                    locale=language, is_demo=True)
            for username, name, language, low in NORTH]
    await history.load(identity.store, keyring, cases=made, officer_id=staff["north_officer"], office_id=north,
                       now=clock.now(), seed=61)
