"""Cases: caseload, a case, face-to-face meetings, the remote decision, exceptions,
notes, mentors and case networks. Per-case access is decided by the policy engine's
``scope`` rule inside the service; the roles here are the outer fence."""

from __future__ import annotations

from server.cases.service import CaseView
from server.identity.model import Role
from server.policy.decision import Decision as PolicyDecision
from server.web import schemas as s
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

OFFICERS = frozenset({Role.OFFICER, Role.SENIOR_OFFICER})
CASE_READERS = frozenset({Role.OFFICER, Role.SENIOR_OFFICER, Role.CLIENT})
CASE_OPENERS = frozenset({Role.OFFICER, Role.SENIOR_OFFICER, Role.ADMIN})

CASELOAD = Permission("list a caseload", roles=OFFICERS)
OPEN_CASE = Permission("open a case", roles=CASE_OPENERS)
READ_CASE = Permission("read a case", roles=CASE_READERS, case_scoped=True)
WRITE_CASE = Permission("change a case", roles=OFFICERS, case_scoped=True)
REMOTE = Permission("ask whether remote supervision is allowed", roles=OFFICERS, case_scoped=True)
GRANT = Permission("grant a face-to-face exception", roles=frozenset({Role.SENIOR_OFFICER}), case_scoped=True)
OWN_CASE = Permission("read their own case", roles=frozenset({Role.CLIENT}))
MENTEES = Permission("list their mentees", roles=frozenset({Role.MENTOR}))
REASSIGN = Permission("reassign a case", roles=frozenset({Role.SENIOR_OFFICER}), case_scoped=True)
ASSIGN_MENTOR = Permission("assign a mentor", roles=OFFICERS, case_scoped=True)
END_MENTORING = Permission("end a mentor assignment", roles=OFFICERS, case_scoped=True)


def remote_status(decision: PolicyDecision) -> s.RemoteStatus:
    # The last reason is the deciding rule's (scope runs first, face_to_face_first after it).
    reason = decision.reasons[-1] if decision.reasons else ""
    code = decision.codes[-1] if decision.codes else None
    return s.RemoteStatus(allowed=decision.allowed, rule_id=decision.rule_id, reason=reason,
                          coded=s.ReasonOut(code=code.code, params=dict(code.params)) if code else None)


def flags(view: CaseView) -> s.Flags:
    return s.Flags(domestic_violence=view.facts.domestic_violence, low_digital_access=view.facts.low_digital_access,
                   interpreter_needed=view.facts.interpreter_needed, language=view.facts.language)


def f2f(view: CaseView) -> s.FaceToFace:
    return s.FaceToFace(count=view.facts.face_to_face_with_current_officer, last_met_at=view.last_met_at)


def register(api: Registry) -> None:
    @api.route("GET", "/api/caseload", permission=CASELOAD, summary="Caseload (senior officers: their office)",
               response=s.Caseload, tag="cases")
    async def caseload(call: Call[None]) -> s.Caseload:
        rows = await call.request.app[SERVICES].cases.caseload(call.actor)
        return s.Caseload(cases=[
            s.CaseSummary(case_id=view.row.id, client=s.PersonRef(id=view.row.client_id, display_name=client),
                          officer=s.PersonRef(id=view.row.officer_id, display_name=officer),
                          face_to_face=f2f(view), remote=remote_status(decision), flags=flags(view))
            for view, decision, client, officer in rows
        ])

    @api.route("POST", "/api/cases", permission=OPEN_CASE, summary="Open a case and enrol its client",
               body=s.CreateCase, response=s.CreatedCase, status=201, tag="cases",
               example={"client_username": "newclient", "client_display_name": "New Client", "officer_id": "OFFICER"})
    async def create_case(call: Call[s.CreateCase]) -> s.CreatedCase:
        b = call.body
        created = await call.request.app[SERVICES].cases.create_case(
            call.actor, client_username=b.client_username, client_display_name=b.client_display_name,
            officer_id=b.officer_id, domestic_violence=b.domestic_violence, protected_person=b.protected_person,
            low_digital_access=b.low_digital_access, interpreter_needed=b.interpreter_needed, language=b.language)
        return s.CreatedCase(case_id=created.case_id, client_id=created.client_id,
                             enrolment_code=created.enrolment_code,
                             enrolment_link=f"/#/enrol?code={created.enrolment_code}")

    @api.route("GET", "/api/cases/{case_id}", permission=READ_CASE, summary="One case", response=s.CaseDetail,
               tag="cases")
    async def read_case(call: Call[None]) -> s.CaseDetail:
        view, decision = await call.request.app[SERVICES].cases.read(call.actor, call.param("case_id"))
        return s.CaseDetail(case_id=view.row.id, client_id=view.row.client_id, officer_id=view.row.officer_id,
                            office_id=view.row.office_id, face_to_face=f2f(view), remote=remote_status(decision),
                            flags=flags(view), legal_hold=view.row.legal_hold)

    @api.route("GET", "/api/cases/{case_id}/file", permission=WRITE_CASE,
               summary="The officer's case page: names, meetings, network, mentors and candidates",
               response=s.CaseFile, tag="cases")
    async def case_file(call: Call[None]) -> s.CaseFile:
        f = await call.request.app[SERVICES].cases.case_file(call.actor, call.param("case_id"))
        row = f.view.row
        return s.CaseFile(
            case_id=row.id, client_id=row.client_id, officer_id=row.officer_id, office_id=row.office_id,
            client=s.PersonRef(id=row.client_id, display_name=f.client_name),
            officer=s.PersonRef(id=row.officer_id, display_name=f.officer_name), face_to_face=f2f(f.view),
            remote=remote_status(f.decision), flags=flags(f.view), legal_hold=row.legal_hold,
            meetings=[s.Meeting(id=m.id, met_at=m.met_at, location=m.location,
                                officer=s.PersonRef(id=m.officer_id, display_name=m.officer_name)) for m in f.meetings],
            network=[s.PersonRef(id=p.id, display_name=p.display_name) for p in f.network],
            mentors=[s.Mentoring(assignment_id=m.assignment_id, ends_on=m.ends_on,
                                 mentor=s.PersonRef(id=m.id, display_name=m.display_name)) for m in f.mentors],
            candidates=[s.Candidate(id=c.id, display_name=c.display_name, role=c.role) for c in f.candidates])

    @api.route("POST", "/api/cases/{case_id}/face-to-face", permission=WRITE_CASE,
               summary="Record an in-person meeting", body=s.RecordFaceToFace, response=s.Created, status=201,
               tag="cases", example={"met_at": "2026-01-05T08:00:00Z", "location": "Office"})
    async def face_to_face(call: Call[s.RecordFaceToFace]) -> s.Created:
        meeting_id = await call.request.app[SERVICES].cases.record_face_to_face(
            call.actor, call.param("case_id"), met_at=call.body.met_at, location=call.body.location)
        return s.Created(id=meeting_id)

    @api.route("GET", "/api/cases/{case_id}/remote-decision", permission=REMOTE,
               summary="May this case's officer supervise the client remotely?", response=s.Decision, tag="cases")
    async def remote_decision(call: Call[None]) -> s.Decision:
        d = await call.request.app[SERVICES].cases.remote_decision(call.actor, call.param("case_id"))
        return s.Decision(allowed=d.allowed, rule_id=d.rule_id, policy_version=d.policy_version,
                          reasons=list(d.reasons), obligations=list(d.obligations),
                          codes=[s.ReasonOut(code=c.code, params=dict(c.params)) for c in d.codes])

    @api.route("POST", "/api/cases/{case_id}/exceptions", permission=GRANT,
               summary="Grant a time-limited exception to face-to-face-first", body=s.GrantException,
               response=s.ExceptionGranted, status=201, tag="cases",
               example={"days": 7, "reason": "Client in hospital; officer confirmed by phone"})
    async def grant(call: Call[s.GrantException]) -> s.ExceptionGranted:
        until = await call.request.app[SERVICES].cases.grant_exception(
            call.actor, call.param("case_id"), days=call.body.days, reason=call.body.reason)
        return s.ExceptionGranted(expires_at=until)

    @api.route("POST", "/api/cases/{case_id}/notes", permission=WRITE_CASE, summary="Add a case note (encrypted)",
               body=s.AddNote, response=s.Created, status=201, tag="cases", example={"text": "Discussed housing."})
    async def add_note(call: Call[s.AddNote]) -> s.Created:
        note_id = await call.request.app[SERVICES].cases.add_note(call.actor, call.param("case_id"), call.body.text)
        return s.Created(id=note_id)

    @api.route("GET", "/api/cases/{case_id}/notes", permission=WRITE_CASE, summary="Case notes", response=s.Notes,
               tag="cases")
    async def notes(call: Call[None]) -> s.Notes:
        rows = await call.request.app[SERVICES].cases.notes(call.actor, call.param("case_id"))
        return s.Notes(notes=[s.Note(**r) for r in rows])  # type: ignore[arg-type]

    @api.route("PUT", "/api/cases/{case_id}/officer", permission=REASSIGN,
               summary="Hand the case to another officer of its office", body=s.ChangeOfficer, tag="cases",
               example={"officer_id": "OFFICER"})
    async def change_officer(call: Call[s.ChangeOfficer]) -> None:
        await call.request.app[SERVICES].cases.change_officer(call.actor, call.param("case_id"), call.body.officer_id)

    @api.route("POST", "/api/cases/{case_id}/network", permission=WRITE_CASE,
               summary="Invite a partner-agency user to the case network", body=s.AddNetworkMember, tag="cases",
               example={"partner_id": "PARTNER"})
    async def add_partner(call: Call[s.AddNetworkMember]) -> None:
        await call.request.app[SERVICES].cases.add_network_member(call.actor, call.param("case_id"),
                                                                  call.body.partner_id)

    @api.route("POST", "/api/mentor-assignments", permission=ASSIGN_MENTOR,
               summary="Assign a mentor to a client (a new mentoring conversation)", body=s.AssignMentor,
               response=s.MentorAssignmentOut, status=201, tag="cases",
               example={"mentor_id": "MENTOR", "client_id": "CLIENT"})
    async def assign(call: Call[s.AssignMentor]) -> s.MentorAssignmentOut:
        made = await call.request.app[SERVICES].cases.assign_mentor(
            call.actor, mentor_id=call.body.mentor_id, client_id=call.body.client_id, ends_on=call.body.ends_on,
            starts_on=call.body.starts_on)
        return s.MentorAssignmentOut(id=made.id, mentor_id=made.mentor_id, client_id=made.client_id,
                                     created_at=made.created_at, ends_on=made.ends_on)

    @api.route("POST", "/api/mentor-assignments/{assignment_id}/end", permission=END_MENTORING,
               summary="End a mentoring: the mentor leaves its conversation, the client keeps its history",
               tag="cases")
    async def end_assignment(call: Call[None]) -> None:
        await call.request.app[SERVICES].cases.end_mentor_assignment(call.actor, call.param("assignment_id"))

    @api.route("GET", "/api/my/case", permission=OWN_CASE, summary="The client's own case", response=s.MyCase,
               tag="cases")
    async def my_case(call: Call[None]) -> s.MyCase:
        view, decision, officer, messaging = await call.request.app[SERVICES].cases.my_case(call.actor)
        return s.MyCase(case_id=view.row.id, officer={"display_name": officer}, remote=remote_status(decision),
                        low_digital_access=view.facts.low_digital_access, messaging=remote_status(messaging))

    @api.route("GET", "/api/mentees", permission=MENTEES, summary="A mentor's mentees (names only)",
               response=s.Mentees, tag="cases")
    async def mentees(call: Call[None]) -> s.Mentees:
        rows = await call.request.app[SERVICES].cases.mentees(call.actor)
        return s.Mentees(mentees=[s.PersonRef(id=i, display_name=n) for i, n in rows])
