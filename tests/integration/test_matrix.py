"""Role x route matrix: every declared route, every role, and for per-case routes every
relation of the target case to the actor, run as real HTTP requests on SQLite and
PostgreSQL.

The table below is written by hand from DESIGN.md ("Who uses it", rule 5 "Scope"), not
derived from the server's ``Permission`` objects, so a route whose fence drifts fails
here. A route in the registry with no row fails, and so does a row for a route that no
longer exists.

Outcome of a cell:

- ``N`` denied: 401, or 403 with code ``forbidden``, or 403 ``policy_refused`` with
  rule_id ``scope``, or 404 ``not_found``: a resource outside the caller's scope is
  answered as if it did not exist (issue 12), whatever route it is reached through.
- ``Y`` allowed: the request got past authorisation, and must succeed (2xx) unless the
  cell is listed in ``NOT_2XX`` with the answer the route's own checks give (a refusal by
  a domain rule such as ``face_to_face_first``, a 409, a 404 for a thing other than the
  fenced resource). A 404 anywhere else is a denial, so an allowed cell cannot pass on a
  "no such ..." for its own resource.
- A 5xx fails the cell whatever the table says, and so does a denied cell that wrote
  anything (row counts of every table, audit log included, are compared).

Relations (world from ``tests.helpers.world`` plus the extras built in ``_setup``):

- ``own``: the case the actor is tied to by their role. client: their own case
  (``own``); officer: the case they supervise (``own``); senior officer: a case they
  supervise themselves (``senior_own``); mentor: their mentee's case (``own``); partner:
  the case whose network they are in (``own``). Roles with no tie to any case
  (facilitator, interpreter, admin, room device): a case in their office, office A
  (``own``), which for them is no tie at all.
- ``same_office``: a case of office A the actor has no personal tie to: officer2's case
  (``same_office``). For a client, a mentor or a partner, that is another client's case
  in the office of their own case.
- ``other_office``: officer3's case in office B (``other_office``).
- ``unrelated``: a case in office B that no actor has any tie to, not even by office:
  supervised by senior_b, no mentor, no network (``unrelated``).

Per-case routes are those with ``{case_id}`` in the path, plus two that name their case
in the body: ``POST /api/mentor-assignments`` (``client_id`` is the client of the
relation's case) and ``POST /api/cases`` (``officer_id`` is the supervising officer of the
relation's case: the actor themselves for an officer's or a senior's ``own``).

Writes that are allowed change state, so they use throwaway targets: a spare mentor, a
spare partner and a spare user to disable; a fresh session to sign out; fresh usernames
and office names; one enrolment code per role; and the policy PUT sends the rule's
current config, so behaviour never changes mid-run.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from server.app import build_registry
from server.errors import NotFound, TandemError
from server.groups.sessions import NewSession
from server.identity.model import Actor, Role
from server.ids import new_id
from server.networks.machine import TaskDraft
from server.scheduling.model import Kind
from server.scheduling.service import NewAppointment
from server.web.state import Services
from tests.helpers import world
from tests.helpers.http import row_counts, substitute
from tests.helpers.world import PASSWORD, login

ROLES = world.ROLES  # client officer senior_officer facilitator mentor partner interpreter admin room_device evaluator
RELATIONS = ("own", "same_office", "other_office", "unrelated")
#: role -> the world user who acts in that role
ACTOR = {"client": "client", "officer": "officer", "senior_officer": "senior", "facilitator": "facilitator",
         "mentor": "mentor", "partner": "partner", "interpreter": "interpreter", "admin": "admin",
         "room_device": "room_device", "evaluator": "evaluator"}

Row = str | dict[str, str]

# Columns:                                     cli off sen fac men par int adm dev eva
MATRIX: dict[tuple[str, str], Row] = {
    # -- identity: signing in and out is for everyone; TOTP enrolment for staff only
    ("POST", "/api/session"):                  "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("POST", "/api/session/totp"):             "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("DELETE", "/api/session"):                "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("GET", "/api/me"):                        "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("POST", "/api/me/totp"):                  "N   Y   Y   Y   N   N   N   Y   N   Y",
    ("POST", "/api/me/totp/confirm"):          "N   Y   Y   Y   N   N   N   Y   N   Y",
    ("POST", "/api/enrol"):                    "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    # -- cases
    ("GET", "/api/caseload"):                  "N   Y   Y   N   N   N   N   N   N   N",
    # Officers open cases on their own caseload, seniors and admins in their own office.
    ("POST", "/api/cases"): {
        "own":                                 "N   Y   Y   N   N   N   N   Y   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   Y   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    # A client reads their own case; mentors, partners and admins never read case data.
    ("GET", "/api/cases/{case_id}"): {
        "own":                                 "Y   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/face-to-face"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("GET", "/api/cases/{case_id}/remote-decision"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    # Only a senior officer of the case's office. On a case the senior supervises
    # themselves scope lets them through and face_to_face_first refuses ("a second pair
    # of eyes"), which is a Y here: the fence under test is scope.
    ("POST", "/api/cases/{case_id}/exceptions"): {
        "own":                                 "N   N   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/notes"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    # Case notes are for staff: the client of the case may not read them.
    # The officer's case page: those who may change the case.
    ("GET", "/api/cases/{case_id}/file"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("GET", "/api/cases/{case_id}/notes"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    # Reassigning a case: a senior officer of the case's office (the example hands the case
    # to its current officer, so the cell changes nothing but is fully authorised).
    ("PUT", "/api/cases/{case_id}/officer"): {
        "own":                                 "N   N   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/mentor-assignments"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    # Ending a mentor assignment of case "own" (a fresh one each time).
    ("POST", "/api/mentor-assignments/{assignment_id}/end"): "N   Y   Y   N   N   N   N   N   N   N",
    ("GET", "/api/my/case"):                   "Y   N   N   N   N   N   N   N   N   N",
    # -- mentoring periods (issue 16). A mentor's own routes name the world mentor's running
    # assignment to "own"'s client ({mentoring_id}); the officer's a fresh assignment of case "own".
    ("GET", "/api/mentoring"):                 "N   N   N   N   Y   N   N   N   N   N",
    ("GET", "/api/mentoring/{mentoring_id}"):  "N   N   N   N   Y   N   N   N   N   N",
    ("POST", "/api/mentoring/{mentoring_id}/activities"): "N   N   N   N   Y   N   N   N   N   N",
    ("POST", "/api/mentoring/{mentoring_id}/outcome"): "N   N   N   N   Y   N   N   N   N   N",
    ("GET", "/api/cases/{case_id}/mentoring"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/mentor-assignments/{assignment_id}/extend"): "N   Y   Y   N   N   N   N   N   N   N",
    ("POST", "/api/mentor-assignments/{assignment_id}/outcome"): "N   Y   Y   N   N   N   N   N   N   N",
    ("GET", "/api/my/mentoring"):              "Y   N   N   N   N   N   N   N   N   N",
    # -- messaging: every role may list its own conversations (possibly none); a thread's
    # history is for its members only. The thread here is case "own"'s case conversation
    # (its client and supervising officer); the membership fence answers 404 (denied), so
    # conversation ids cannot be probed.
    ("GET", "/api/conversations"):             "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("GET", "/api/conversations/{conversation_id}/messages"): "Y   Y   N   N   N   N   N   N   N   N",
    # Attachments have the same fence as the thread they were sent to.
    ("POST", "/api/conversations/{conversation_id}/attachments"): "Y   Y   N   N   N   N   N   N   N   N",
    ("GET", "/api/attachments/{attachment_id}"): "Y   Y   N   N   N   N   N   N   N   N",
    # -- push: anyone signed in may be notified (content-free) on their own devices
    ("GET", "/api/push/key"):                  "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("POST", "/api/push/subscriptions"):       "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("DELETE", "/api/push/subscriptions"):     "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    # -- media: anyone signed in may test their own camera, microphone and network
    ("POST", "/api/media/echo"):               "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("POST", "/api/media/echo/{echo_id}/assessment"): "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("DELETE", "/api/media/echo/{echo_id}"):   "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("GET", "/api/mentees"):                   "N   N   N   N   Y   N   N   N   N   N",
    # -- programme groups: facilitators and seniors run them; a client sees the groups they
    # are in (the harness group, in office A, has "own"'s client enrolled); an officer refers
    # a client of their own caseload.
    ("GET", "/api/groups"):                    "Y   N   Y   Y   N   N   N   N   N   N",
    ("POST", "/api/groups"):                   "N   N   Y   Y   N   N   N   N   N   N",
    ("GET", "/api/groups/{group_id}"):         "Y   N   Y   Y   N   N   N   N   N   N",
    ("POST", "/api/groups/{group_id}/participants"): "N   Y   Y   Y   N   N   N   N   N   N",
    ("POST", "/api/groups/{group_id}/facilitators"): "N   N   Y   Y   N   N   N   N   N   N",
    ("DELETE", "/api/groups/{group_id}/members/{user_id}"): "N   N   Y   Y   N   N   N   N   N   N",
    ("PUT", "/api/groups/{group_id}/member-names"): "N   N   Y   Y   N   N   N   N   N   N",
    # -- administration: admins run the service, each their own office (a new office only the
    # deployment's cross-office admin opens: test_office_boundary.py); seniors may read (not
    # change) policies
    ("GET", "/api/admin/users"):               "N   N   N   N   N   N   N   Y   N   N",
    ("POST", "/api/admin/users"):              "N   N   N   N   N   N   N   Y   N   N",
    ("POST", "/api/admin/users/{user_id}/disabled"): "N   N   N   N   N   N   N   Y   N   N",
    ("GET", "/api/admin/offices"):             "N   N   N   N   N   N   N   Y   N   N",
    ("POST", "/api/admin/offices"):            "N   N   N   N   N   N   N   N   N   N",
    ("GET", "/api/policies"):                  "N   N   Y   N   N   N   N   Y   N   N",
    ("GET", "/api/policies/versions"):         "N   N   Y   N   N   N   N   Y   N   N",
    ("PUT", "/api/policies/{rule_id}"):        "N   N   N   N   N   N   N   Y   N   N",
    # -- retention (issue 5): admins run it; a senior officer or an admin of the case's office
    # sets a legal hold; exports are for the client themself or an admin of the office.
    ("GET", "/api/admin/retention"):           "N   N   N   N   N   N   N   Y   N   N",
    ("POST", "/api/admin/retention/preview"):  "N   N   N   N   N   N   N   Y   N   N",
    ("PUT", "/api/admin/retention"):           "N   N   N   N   N   N   N   Y   N   N",
    ("GET", "/api/admin/retention/runs"):      "N   N   N   N   N   N   N   Y   N   N",
    ("POST", "/api/cases/{case_id}/legal-hold"): {
        "own":                                 "N   N   Y   N   N   N   N   Y   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   Y   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("DELETE", "/api/cases/{case_id}/legal-hold"): {
        "own":                                 "N   N   Y   N   N   N   N   Y   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   Y   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("GET", "/api/cases/{case_id}/export"): {
        "own":                                 "N   N   N   N   N   N   N   Y   N   N",
        "same_office":                         "N   N   N   N   N   N   N   Y   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/data-requests"): {
        "own":                                 "N   N   N   N   N   N   N   Y   N   N",
        "same_office":                         "N   N   N   N   N   N   N   Y   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("GET", "/api/my/data"):                   "Y   N   N   N   N   N   N   N   N   N",
    ("POST", "/api/my/data-requests"):         "Y   N   N   N   N   N   N   N   N   N",
    ("GET", "/api/admin/data-requests"):       "N   N   N   N   N   N   N   Y   N   N",
    ("POST", "/api/admin/data-requests/{request_id}/decision"): "N   N   N   N   N   N   N   Y   N   N",
    ("GET", "/api/admin/records-of-processing"): "N   N   N   N   N   N   N   Y   N   N",
    # -- scheduling: officers schedule for cases in scope; a client reads their own appointments.
    # Appointment routes act on a fresh appointment of case "own" per cell (starting in 5 minutes,
    # so its window is open for an outcome).
    ("POST", "/api/cases/{case_id}/appointments"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    # -- video check-ins (issue 4). Scheduling is for the case's staff; face_to_face_first
    # refuses the senior on the two cases with no in-person meeting (a Y: scope let them by).
    ("POST", "/api/cases/{case_id}/checkins"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("GET", "/api/appointments/{appointment_id}"): "Y   Y   Y   N   N   N   N   N   N   N",
    ("PATCH", "/api/appointments/{appointment_id}"): "N   Y   Y   N   N   N   N   N   N   N",
    ("POST", "/api/appointments/{appointment_id}/cancel"): "N   Y   Y   N   N   N   N   N   N   N",
    ("POST", "/api/appointments/{appointment_id}/outcome"): "N   Y   Y   N   N   N   N   N   N   N",
    ("GET", "/api/appointments/{appointment_id}/ics"): "Y   Y   Y   N   N   N   N   N   N   N",
    ("GET", "/api/calendar.ics"):              "Y   Y   Y   N   N   N   N   N   N   N",
    ("GET", "/api/schedule"):                  "N   Y   Y   N   N   N   N   N   N   N",
    ("GET", "/api/my/appointments"):           "Y   N   N   N   N   N   N   N   N   N",
    ("GET", "/api/followups"):                 "N   Y   Y   N   N   N   N   N   N   N",
    # Everyone signed in may list their own reminders (possibly none).
    ("GET", "/api/reminders"):                 "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("GET", "/api/checkins"):                  "Y   Y   Y   N   N   N   Y   N   N   N",
    # The check-in below is case "own"'s: its client, its officer and the office's senior take
    # part; an interpreter only when invited (this one is not: 404, as for anyone else).
    ("GET", "/api/checkins/{checkin_id}"):     "Y   Y   Y   N   N   N   N   N   N   N",
    ("POST", "/api/checkins/{checkin_id}/link"): "N   Y   Y   N   N   N   N   N   N   N",
    ("POST", "/api/checkins/{checkin_id}/code-session"): "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("POST", "/api/checkins/{checkin_id}/interpreters"): "N   Y   Y   N   N   N   N   N   N   N",
    ("GET", "/api/checkins/{checkin_id}/safe-space"): "Y   Y   Y   N   N   N   N   N   N   N",
    ("POST", "/api/checkins/{checkin_id}/safe-space"): "Y   Y   Y   N   N   N   N   N   N   N",
    ("POST", "/api/checkins/{checkin_id}/cant-talk"): "Y   Y   Y   N   N   N   N   N   N   N",
    ("GET", "/api/checkins/{checkin_id}/ice-servers"): "Y   Y   Y   N   N   N   N   N   N   N",
    ("POST", "/api/checkins/{checkin_id}/outcome"): "N   Y   Y   N   N   N   N   N   N   N",
    # -- staff alerts (issue 13): officers and seniors list their own; the alert below is the
    # officer's (their client said "I can't talk safely now"), so only they acknowledge it and
    # anyone else is told it does not exist. Acknowledging twice is no error.
    ("GET", "/api/alerts"):                    "N   Y   Y   N   N   N   N   N   N   N",
    ("POST", "/api/alerts/{alert_id}/ack"):    "N   Y   N   N   N   N   N   N   N   N",
    # -- group programme sessions (issue 14): those who run the group (its facilitator, the office's
    # seniors) schedule and keep the register; its members see the sessions and the agreement, which
    # only a participant accepts.
    ("POST", "/api/groups/{group_id}/sessions"): "N   N   Y   Y   N   N   N   N   N   N",
    ("GET", "/api/groups/{group_id}/sessions"): "Y   N   Y   Y   N   N   N   N   N   N",
    ("POST", "/api/group-sessions/{session_id}/cancel"): "N   N   Y   Y   N   N   N   N   N   N",
    ("PUT", "/api/groups/{group_id}/agreement"): "N   N   Y   Y   N   N   N   N   N   N",
    ("GET", "/api/groups/{group_id}/agreement"): "Y   N   Y   Y   N   N   N   N   N   N",
    ("POST", "/api/groups/{group_id}/agreement/acceptance"): "Y   N   N   N   N   N   N   N   N   N",
    # The safe-space check before a live session: its participants and those who run it (the room
    # device is exempt); the service answers anyone else as absent.
    ("GET", "/api/group-sessions/{session_id}/safe-space"): "Y   N   Y   Y   N   N   N   N   N   N",
    ("POST", "/api/group-sessions/{session_id}/safe-space"): "Y   N   Y   Y   N   N   N   N   N   N",
    ("GET", "/api/group-sessions/{session_id}/register"): "N   N   Y   Y   N   N   N   N   N   N",
    ("POST", "/api/group-sessions/{session_id}/register"): "N   N   Y   Y   N   N   N   N   N   N",
    ("GET", "/api/group-sessions/{session_id}/register.csv"): "N   N   Y   Y   N   N   N   N   N   N",
    # Those who run the session choose its co-facilitators and observer and mark who is in the room.
    ("GET", "/api/group-sessions/{session_id}/staff"): "N   N   Y   Y   N   N   N   N   N   N",
    ("POST", "/api/group-sessions/{session_id}/staff"): "N   N   Y   Y   N   N   N   N   N   N",
    ("POST", "/api/group-sessions/{session_id}/in-room"): "N   N   Y   Y   N   N   N   N   N   N",
    # -- rooms and room devices (issue 14): an office's admins and seniors register rooms and pair
    # devices into them (the harness room is office A's); facilitators see the rooms to choose one.
    # A device asks for a code and claims its account unsigned; only a paired device sees its room.
    ("GET", "/api/rooms"):                     "N   N   Y   Y   N   N   N   Y   N   N",
    ("POST", "/api/rooms"):                    "N   N   Y   N   N   N   N   Y   N   N",
    ("POST", "/api/rooms/{room_id}/devices"):  "N   N   Y   N   N   N   N   Y   N   N",
    ("POST", "/api/room-devices/pairing"):     "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("POST", "/api/room-devices/claim"):       "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("GET", "/api/room-device"):               "N   N   N   N   N   N   N   N   Y   N",
    # Group sessions in scheduling's shared places: a session's .ics for its members and those who
    # run it; everyone's own upcoming sessions; absences on the officers' follow-up list; a case's
    # attendance lines for those who read the case (not its client: a staff view).
    ("GET", "/api/group-sessions/{session_id}/ics"): "Y   N   Y   Y   N   N   N   N   N   N",
    ("GET", "/api/group-sessions/{session_id}/series.ics"): "Y   N   Y   Y   N   N   N   N   N   N",
    ("GET", "/api/my/group-sessions"):        "Y   N   Y   Y   N   N   N   N   N   N",
    ("GET", "/api/followups/group-absences"): "N   Y   Y   N   N   N   N   N   N   N",
    # A participant's one-time join link: made by those who run the session (for the harness
    # group's participant), spent by anyone holding the code (a fresh code per cell).
    ("POST", "/api/group-sessions/{session_id}/participants/{user_id}/link"): "N   N   Y   Y   N   N   N   N   N   N",
    ("POST", "/api/group-sessions/{session_id}/code-session"): "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y",
    ("GET", "/api/cases/{case_id}/group-attendance"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    # -- case networks (issue 16, TUKO). Each allowed cell first brings its case's network to the
    # stage the step needs (``_network_at``): on "own" the world partner and the client are members
    # and each owns a task; the case leader (its officer, a senior of the office) leads. Anyone else
    # on a case whose network they were never in is answered as for no case.
    ("GET", "/api/cases/{case_id}/network"): {
        "own":                                 "Y   Y   Y   N   N   Y   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/concerns"): {
        "own":                                 "Y   Y   Y   N   N   Y   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/members"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/meetings"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/views"): {
        "own":                                 "Y   Y   Y   N   N   Y   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/assessment"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("PUT", "/api/cases/{case_id}/network/plan"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/plan/send"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/plan/revisions"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("GET", "/api/cases/{case_id}/network/meetings.ics"): {
        "own":                                 "Y   Y   Y   N   N   Y   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("GET", "/api/cases/{case_id}/network/plan.pdf"): {
        "own":                                 "Y   Y   Y   N   N   Y   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/plan/acknowledgement"): {
        "own":                                 "Y   N   N   N   N   Y   N   N   N   N",
        "same_office":                         "N   N   N   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/tasks"): {
        "own":                                 "Y   Y   Y   N   N   Y   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/close"): {
        "own":                                 "N   Y   Y   N   N   N   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    # A network meeting by video (rule network_meeting_video): the safe-space check before it, for
    # the case leader and the network's active members (the client with the reason it is safe).
    ("GET", "/api/cases/{case_id}/network/meetings/{meeting_id}/safe-space"): {
        "own":                                 "Y   Y   Y   N   N   Y   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("POST", "/api/cases/{case_id}/network/meetings/{meeting_id}/safe-space"): {
        "own":                                 "Y   Y   Y   N   N   Y   N   N   N   N",
        "same_office":                         "N   N   Y   N   N   N   N   N   N   N",
        "other_office":                        "N   N   N   N   N   N   N   N   N   N",
        "unrelated":                           "N   N   N   N   N   N   N   N   N   N",
    },
    ("GET", "/api/my/networks"):               "Y   N   N   N   N   Y   N   N   N   N",
    ("GET", "/api/networks/follow-up"):        "N   Y   Y   N   N   N   N   N   N   N",
    # -- evaluation (issue 16): figures for evaluators (every office) and seniors (their own); the
    # evaluator has no case at all (every case route above is N in their column). The one question
    # after a check-in is for its client and its staff; the harness check-in has not taken place yet,
    # so an allowed cell is answered 409 (not yet) by the route's own check.
    ("GET", "/api/evaluation"):                "N   N   Y   N   N   N   N   N   N   Y",
    ("GET", "/api/evaluation/{figure}.csv"):   "N   N   Y   N   N   N   N   N   N   Y",
    ("POST", "/api/checkins/{checkin_id}/feedback"): "Y   Y   Y   N   N   N   N   N   N   N",
    # The same after a live group session: its participants who attended (the harness client was let
    # in) and those who run it; anyone else is answered as for no session, the room device by scope.
    ("POST", "/api/group-sessions/{session_id}/feedback"): "Y   N   Y   Y   N   N   N   N   N   N",
}

#: Allowed cells answered by the route's own checks rather than with a 2xx: the
#: example TOTP code is not the current one; a senior may not waive face-to-face-first
#: on a case they supervise themselves. Every other allowed cell must succeed, so a
#: wrong id in this harness cannot pass as "allowed" with a 404.
NOT_2XX: dict[tuple[str, str, str | None], tuple[int, str]] = {
    ("POST", "/api/me/totp/confirm", None): (422, "invalid_request"),
    ("POST", "/api/cases/{case_id}/exceptions", "own"): (403, "face_to_face_first"),
    # The throwaway user is no member of the harness group: fully authorised, nothing to withdraw.
    ("DELETE", "/api/groups/{group_id}/members/{user_id}", None): (404, "not_found"),
    # The senior sets (and lifts) the hold on office A's other case first; the admin then finds it set (lifted).
    ("POST", "/api/cases/{case_id}/legal-hold", "same_office"): (409, "conflict"),
    ("DELETE", "/api/cases/{case_id}/legal-hold", "same_office"): (409, "conflict"),
    # media: an SDP with no media is refused by the echo peer; no test is open to ask about or end
    ("POST", "/api/media/echo", None): (422, "invalid_request"),
    ("POST", "/api/media/echo/{echo_id}/assessment", None): (404, "not_found"),
    ("DELETE", "/api/media/echo/{echo_id}", None): (404, "not_found"),
    ("POST", "/api/cases/{case_id}/checkins", "own"): (403, "face_to_face_first"),  # the senior's own case
    ("POST", "/api/cases/{case_id}/checkins", "same_office"): (403, "face_to_face_first"),
    ("POST", "/api/checkins/{checkin_id}/feedback", None): (409, "conflict"),
    # The harness session's register is not confirmed: nothing to export yet.
    ("GET", "/api/group-sessions/{session_id}/register.csv", None): (409, "conflict"),
}
#: Check-in routes that change the check-in's state or who takes part: each cell gets a fresh check-in.
FRESH_CHECKIN_ROUTES = {("POST", "/api/checkins/{checkin_id}/cant-talk"),
                        ("POST", "/api/checkins/{checkin_id}/interpreters"),
                        ("POST", "/api/checkins/{checkin_id}/outcome")}
#: Group-session routes that change their session (cancel, confirm the register): a fresh one per cell.
FRESH_SESSION_ROUTES = {("POST", "/api/group-sessions/{session_id}/cancel"),
                        ("POST", "/api/group-sessions/{session_id}/register"),
                        ("POST", "/api/group-sessions/{session_id}/staff")}
#: A PNG for the attachment routes (they take a raw body, not JSON).
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
#: Per-case routes whose case is named in the body rather than the path.
BODY_CASE_ROUTES = {("POST", "/api/mentor-assignments"), ("POST", "/api/cases")}
#: The rule whose current config the policy PUT sends back unchanged.
POLICY_RULE = "face_to_face_first"


ROUTES = {(r.method, r.path): r for r in build_registry().routes}


def is_per_case(method: str, path: str) -> bool:
    return "{case_id}" in path or (method, path) in BODY_CASE_ROUTES


def expectations() -> dict[tuple[str, str, str, str | None], bool]:
    """(method, path, role, relation or None) -> allowed?"""
    out: dict[tuple[str, str, str, str | None], bool] = {}
    for (method, path), row in MATRIX.items():
        rows = row if isinstance(row, dict) else {None: row}
        for relation, line in rows.items():
            for role, mark in zip(ROLES, line.split(), strict=True):
                out[(method, path, role, relation)] = {"Y": True, "N": False}[mark]
    return out


def test_table_covers_every_route_and_only_those() -> None:
    declared = set(ROUTES)
    missing = sorted(declared - set(MATRIX))
    stale = sorted(set(MATRIX) - declared)
    assert not missing and not stale, f"routes with no row in MATRIX: {missing}; rows for no route: {stale}"
    for (method, path), row in MATRIX.items():
        if is_per_case(method, path):
            assert isinstance(row, dict) and tuple(row) == RELATIONS, f"{method} {path}: one line per relation"
        else:
            assert isinstance(row, str), f"{method} {path}: not per case, one line"
    expectations()  # every line has one Y/N per role


# -- the world and the requests -------------------------------------------------------


@dataclass
class Ctx:
    client: TestClient[Any, Any]
    services: Services
    w: world.World
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> bearer headers
    cases: dict[str, str] = field(default_factory=dict)  # world case key -> case id
    officer_of: dict[str, str] = field(default_factory=dict)  # world case key -> supervising officer id
    client_of: dict[str, str] = field(default_factory=dict)  # world case key -> client id
    enrol_codes: dict[str, str] = field(default_factory=dict)  # role -> unused enrolment code
    spare: dict[str, str] = field(default_factory=dict)  # mentor | partner | disable_target -> user id
    policy_config: dict[str, Any] = field(default_factory=dict)
    case_conversation: str = ""
    group: str = ""  # a programme group of office A run by the facilitator, "own"'s client enrolled
    attachment: str = ""  # uploaded by the client to the case conversation
    data_request: str = ""  # an open rectification request of the client of "own"
    checkin: str = ""  # a video check-in of case "own", open now
    alert: str = ""  # the officer's alert: the client of "own" could not talk safely in a check-in
    session: str = ""  # a session of the harness group, started a minute ago
    mentoring: str = ""  # the world mentor's running assignment to the client of "own"
    room: str = ""  # a room of office A
    unique: itertools.count[int] = field(default_factory=itertools.count)

    def case_key(self, role: str, relation: str) -> str:
        if relation == "own" and role == "senior_officer":
            return "senior_own"
        return relation


async def _setup(client: TestClient[Any, Any], services: Services) -> Ctx:
    w = await world.build(services)
    cases, ident = services.cases, services.identity
    senior, senior_b = w.actor("senior"), w.actor("senior_b")
    ctx = Ctx(client, services, w)
    ctx.cases.update(w.cases)
    ctx.client_of.update(w.clients)
    ctx.officer_of.update(own=w.users["officer"], same_office=w.users["officer2"],
                          other_office=w.users["officer3"])
    for key, opener, officer in (("senior_own", senior, "senior"), ("unrelated", senior_b, "senior_b")):
        made = await cases.create_case(opener, client_username=f"client_{key}", client_display_name=key,
                                       officer_id=w.users[officer])
        ctx.cases[key], ctx.client_of[key], ctx.officer_of[key] = made.case_id, made.client_id, w.users[officer]
    for role in ROLES:  # one enrolment code per role, on clients nobody else uses
        made = await cases.create_case(senior_b, client_username=f"enrol_{role}", client_display_name=role,
                                       officer_id=w.users["officer3"])
        ctx.enrol_codes[role] = made.enrolment_code
    for key, role in (("mentor", Role.MENTOR), ("partner", Role.PARTNER), ("disable_target", Role.OFFICER)):
        ctx.spare[key] = await ident.create_user(None, username=f"spare_{key}", display_name=key, role=role,
                                                 office_id=w.offices["A"], password=None)
    for role in ROLES:
        ctx.headers[role] = await login(client, ACTOR[role])
    resp = await client.get("/api/policies", headers=ctx.headers["admin"])
    assert resp.status == 200
    rules = {r["rule_id"]: r["config"] for r in (await resp.json())["rules"]}
    ctx.policy_config = rules[POLICY_RULE]
    convs = (await (await client.get("/api/conversations", headers=ctx.headers["client"])).json())["conversations"]
    ctx.case_conversation = next(c["id"] for c in convs if c["kind"] == "case")
    made = await services.attachments.upload(w.actor("client"), ctx.case_conversation, "image/png", PNG)
    ctx.attachment = made.id
    ctx.group = await services.groups.create_cohort(w.actor("facilitator"), name="Matrix", programme="Matrix")
    await services.groups.enrol(w.actor("facilitator"), ctx.group, w.cases["own"])
    ctx.data_request = await services.retention.request(w.actor("client"), "rectification", "Wrong address", [])
    ctx.checkin = await _new_checkin(ctx)
    unsafe = await _new_checkin(ctx)
    await services.checkins.answer_safe_space(w.actor("client"), unsafe, {}, cant_talk=True)
    [alert] = await services.alerts.open_alerts(w.actor("officer"))
    ctx.alert = alert.row.id
    await services.group_sessions.set_agreement(w.actor("facilitator"), ctx.group, auto_admit=False,
                                                text="What is said in the group stays in the group.")
    ctx.session = await _new_session(ctx)
    # The harness client was let into the harness session (its feedback route asks that).
    await services.attendance.record(ctx.session, ctx.w.clients["own"], "present")
    [period] = await services.mentoring.of_mentor(w.actor("mentor"))
    ctx.mentoring = period.assignment_id
    # The room device acts as a paired device of the harness room (the world's room_device
    # account has no device; it still signs in by password for the session cells).
    ctx.room = await services.rooms.create_room(senior, name="Matrix room", kind="office")
    pairing = await services.rooms.start_pairing()
    await services.rooms.pair(senior, ctx.room, pairing.code, "Matrix room PC")
    claimed = await services.rooms.claim(pairing.device_id, pairing.secret, kind="bearer", address="matrix")
    assert claimed is not None
    ctx.headers["room_device"] = {"Authorization": f"Bearer {claimed.token}"}
    ctx.spare["colleague"] = await ident.create_user(None, username="spare_colleague", display_name="Colleague",
                                                     role=Role.FACILITATOR, office_id=w.offices["A"], password=None)
    return ctx


async def _new_session(ctx: Ctx) -> str:
    start = ctx.services.clock.now() - timedelta(minutes=1)
    made = await ctx.services.group_sessions.schedule(ctx.w.actor("facilitator"), ctx.group, NewSession(
        start, start + timedelta(minutes=90)))
    return made[0].id


async def _new_checkin(ctx: Ctx) -> str:
    now = ctx.services.clock.now()
    done = await ctx.services.checkins.schedule_checkin(ctx.w.actor("officer"), ctx.w.cases["own"],
                                                       now - timedelta(minutes=5), now + timedelta(hours=1))
    return str(done.row.id)


async def _request_for(ctx: Ctx, method: str, path: str, role: str,
                       relation: str | None) -> tuple[str, Any, dict[str, str]]:
    """The URL, JSON body and headers of one cell, from the route's example body."""
    spec = ROUTES[(method, path)]
    key = ctx.case_key(role, relation) if relation is not None else "own"
    n = next(ctx.unique)
    url = path.replace("{case_id}", ctx.cases[key]).replace("{rule_id}", POLICY_RULE)
    if path.endswith("/participants/{user_id}/link"):  # the harness group's participant
        url = url.replace("{user_id}", ctx.client_of["own"])
    url = url.replace("{user_id}", ctx.spare["disable_target"]).replace("{request_id}", ctx.data_request)
    url = url.replace("{conversation_id}", ctx.case_conversation).replace("{attachment_id}", ctx.attachment)
    url = url.replace("{group_id}", ctx.group).replace("{alert_id}", ctx.alert).replace("{room_id}", ctx.room)
    if "{appointment_id}" in url:
        url = url.replace("{appointment_id}", await _fresh_appointment(ctx))
    if "{assignment_id}" in url:
        url = url.replace("{assignment_id}", await _fresh_mentor_assignment(ctx, n))
    url = url.replace("{echo_id}", "no-such-echo").replace("{mentoring_id}", ctx.mentoring)
    url = url.replace("{figure}", "appointments")
    checkin = await _new_checkin(ctx) if (method, path) in FRESH_CHECKIN_ROUTES else ctx.checkin
    url = url.replace("{checkin_id}", checkin)
    if "{session_id}" in url:
        fresh = (method, path) in FRESH_SESSION_ROUTES
        url = url.replace("{session_id}", await _new_session(ctx) if fresh else ctx.session)
    headers = ctx.headers[role]
    body = substitute(copy.deepcopy(spec.example), {
        "OFFICER": ctx.w.users["officer"] if relation is None else
        ctx.w.actor(ACTOR[role]).user_id if relation == "own" and role in ("officer", "senior_officer") else
        ctx.officer_of[key],
        "MENTOR": ctx.spare["mentor"],
        "PARTNER": ctx.spare["partner"],
        "CLIENT": ctx.client_of[key],
        "CASE": ctx.cases[key],
        "FACILITATOR": ctx.w.users["facilitator"],
        "INTERPRETER": ctx.w.users["interpreter"],
    })
    match (method, path):
        case ("POST", "/api/session"):
            body.update(username=ACTOR[role], password=PASSWORD, kind="bearer")
        case ("DELETE", "/api/session"):
            headers = await login(ctx.client, ACTOR[role])  # sign out a throwaway session
        case ("POST", "/api/enrol"):
            body.update(code=ctx.enrol_codes[role], password=PASSWORD)
        case ("POST", "/api/cases"):
            body.update(client_username=f"matrix_client_{n}")
        case ("POST", "/api/mentoring/{mentoring_id}/activities"):
            body.update(done_on=ctx.services.clock.now().date().isoformat())
        case ("POST", "/api/mentor-assignments/{assignment_id}/extend"):
            body.update(ends_on=(ctx.services.clock.now().date() + timedelta(days=300)).isoformat())
        case ("POST", "/api/cases/{case_id}/face-to-face"):
            body.update(met_at=(ctx.services.clock.now() - timedelta(hours=1)).isoformat())
        case ("POST", "/api/admin/users"):
            body.update(username=f"matrix_user_{n}")
        case ("POST", "/api/admin/offices"):
            body.update(name=f"Matrix office {n}")
        case ("PUT", "/api/policies/{rule_id}"):
            body.update(config=ctx.policy_config)
        case ("POST", "/api/conversations/{conversation_id}/attachments"):
            body, headers = PNG, {**headers, "Content-Type": "image/png"}
        case ("GET", "/api/schedule"):
            url += "?date=2026-01-05&view=week"
        case ("POST", "/api/checkins/{checkin_id}/code-session"):
            code, _ = await ctx.services.checkins.issue_link(ctx.w.actor("officer"), checkin)
            body.update(code=code, kind="bearer")
        case ("POST", "/api/rooms/{room_id}/devices"):
            body.update(code=(await ctx.services.rooms.start_pairing()).code)
        case ("POST", "/api/room-devices/claim"):
            pairing = await ctx.services.rooms.start_pairing()
            await ctx.services.rooms.pair(ctx.w.actor("senior"), ctx.room, pairing.code, f"Matrix PC {n}")
            body.update(device_id=pairing.device_id, secret=pairing.secret, kind="bearer")
        case ("POST", "/api/group-sessions/{session_id}/staff"):
            body.update(user_id=ctx.spare["colleague"])
        case ("POST", "/api/group-sessions/{session_id}/code-session"):
            code, _ = await ctx.services.group_links.issue_link(ctx.w.actor("facilitator"), ctx.session,
                                                               ctx.client_of["own"])
            body.update(code=code, kind="bearer")
        case ("POST", "/api/checkins/{checkin_id}/safe-space") if role == "client":
            body.update(answers={"private_place": True, "alone": True, "not_driving": True})
    if path == NETWORK or path.startswith(NETWORK + "/"):
        await _network_cell(ctx, method, path, role, relation, body)
    if "{meeting_id}" in url:  # the current process's latest meeting on the cell's case (none: a random id)
        url = url.replace("{meeting_id}", await _meeting_of(ctx, ctx.cases[key]))
    return url, body, headers


NETWORK = "/api/cases/{case_id}/network"
#: The stage each network step needs its case's network in (a fresh process per allowed cell).
NETWORK_STAGE = {
    ("GET", NETWORK): "coordinated", ("POST", NETWORK): None, ("POST", NETWORK + "/concerns"): "coordinated",
    ("POST", NETWORK + "/members"): "share", ("POST", NETWORK + "/meetings"): "share",
    ("POST", NETWORK + "/views"): "coordinated", ("POST", NETWORK + "/assessment"): "share",
    ("PUT", NETWORK + "/plan"): "plan", ("POST", NETWORK + "/plan/send"): "plan",
    ("POST", NETWORK + "/plan/revisions"): "coordinated", ("GET", NETWORK + "/plan.pdf"): "coordinated",
    ("GET", NETWORK + "/meetings.ics"): "share",
    ("POST", NETWORK + "/plan/acknowledgement"): "coordinated",
    ("POST", NETWORK + "/tasks"): "coordinated", ("POST", NETWORK + "/close"): "share",
    ("GET", NETWORK + "/meetings/{meeting_id}/safe-space"): "share",
    ("POST", NETWORK + "/meetings/{meeting_id}/safe-space"): "share",
}
#: Who owns which task of the harness plan (on "own"; elsewhere only the leader's t1 exists).
NETWORK_TASK = {"officer": "t1", "senior_officer": "t1", "partner": "t2", "client": "t3"}


async def _network_cell(ctx: Ctx, method: str, path: str, role: str, relation: str | None, body: Any) -> None:
    """Bring the cell's case network to the stage the step needs, and date its body from now."""
    target = NETWORK_STAGE[(method, path)]
    if target is None or relation is None or not expectations()[(method, path, role, relation)]:
        return
    key = ctx.case_key(role, relation)
    leader = ctx.w.actor("officer" if key == "own" else "senior")
    await _network_at(ctx, key, leader, target)
    if not isinstance(body, dict):
        return
    now = ctx.services.clock.now()
    if "tasks" in body:
        body.update(tasks=[{**t, "owner_id": leader.user_id, "due_on": (now.date() + timedelta(days=7)).isoformat()}
                           for t in body["tasks"]], next_meeting_at=(now + timedelta(days=2)).isoformat())
    if "ends_on" in body:
        body.update(ends_on=(now.date() + timedelta(days=30)).isoformat())
    if "starts_at" in body:
        body.update(starts_at=(now + timedelta(days=1)).isoformat())
    if "task_id" in body:
        body.update(task_id=NETWORK_TASK[role])


async def _network_at(ctx: Ctx, key: str, leader: Actor, target: str) -> None:
    """A new process on case ``key`` in stage share (a meeting scheduled), plan (a draft written) or
    coordinated (the plan sent), the open one closed first."""
    networks, case_id = ctx.services.networks, ctx.cases[key]
    now = ctx.services.clock.now()
    try:
        stage = (await networks.read(leader, case_id))["stage"]
    except NotFound:
        stage = None
    if stage not in (None, "closed"):
        await networks.close(leader, case_id, conclusion="Matrix cell done")
    await networks.raise_concern(leader, case_id, noticed="Matrix", noticed_by="Matrix")
    members = [ctx.w.users["partner"], ctx.client_of["own"]] if key == "own" else []
    for user_id in members:
        await networks.invite_member(leader, case_id, user_id=user_id, agency="Matrix",
                                     ends_on=now.date() + timedelta(days=30), safety_reason="Matrix")
    await networks.schedule_meeting(leader, case_id, starts_at=now + timedelta(days=1), mode="video")
    if target == "share":
        return
    await networks.record_assessment(leader, case_id, answers={"under_threat": "Matrix"}, decision="plan")
    await networks.write_plan(leader, case_id, tasks=[
        TaskDraft(text=f"Matrix task {i}", owner_id=owner, due_on=now.date() + timedelta(days=7))
        for i, owner in enumerate([leader.user_id, *members], start=1)],
        next_meeting_at=now + timedelta(days=2), keep_in_touch="Matrix")
    if target == "coordinated":
        await networks.send_plan(leader, case_id)


async def _meeting_of(ctx: Ctx, case_id: str) -> str:
    for leader in ("officer", "senior", "senior_b"):
        try:
            meetings = (await ctx.services.networks.read(ctx.w.actor(leader), case_id))["processes"][-1]["meetings"]
        except TandemError:
            continue
        if meetings:
            return str(meetings[-1]["id"])
    return new_id()


async def _fresh_mentor_assignment(ctx: Ctx, n: int) -> str:
    mentor = await ctx.services.identity.create_user(None, username=f"matrix_mentor_{n}", display_name="Mentor",
                                                     role=Role.MENTOR, office_id=ctx.w.offices["A"], password=None)
    made = await ctx.services.cases.assign_mentor(ctx.w.actor("officer"), mentor_id=mentor,
                                                  client_id=ctx.client_of["own"])
    return made.id


async def _fresh_appointment(ctx: Ctx) -> str:
    start = ctx.services.clock.now() + timedelta(minutes=5)
    made = await ctx.services.scheduling.create(ctx.w.actor("officer"), ctx.cases["own"], NewAppointment(
        kind=Kind.IN_PERSON, starts_at=start, ends_at=start + timedelta(minutes=30)))
    return made[0].appointment.id


def _succeeded(method: str, path: str, relation: str | None, status: int, body: Any) -> bool:
    if 200 <= status < 300:
        return True
    err = body.get("error", {}) if isinstance(body, dict) else {}
    expected = NOT_2XX.get((method, path, relation))
    return expected is not None and expected[0] == status and expected[1] in (err.get("code"), err.get("rule_id"))


def _verdict(status: int, body: Any, *, expected: tuple[int, str] | None = None) -> str:
    """"Y", "N" or "5xx" for one response; ``expected`` is the cell's ``NOT_2XX`` answer."""
    if status >= 500:
        return "5xx"
    err = body.get("error") if isinstance(body, dict) else None
    if status == 401:
        return "N"
    if status == 404 and isinstance(err, dict) and err.get("code") == "not_found" and expected != (404, "not_found"):
        return "N"
    if status == 403 and isinstance(err, dict) and (
            err.get("code") == "forbidden" or (err.get("code") == "policy_refused" and err.get("rule_id") == "scope")):
        return "N"
    return "Y"


async def test_role_route_matrix(api: Any) -> None:
    client, services = api
    ctx = await _setup(client, services)
    mismatches: list[str] = []
    for (method, path, role, relation), allowed in expectations().items():
        url, body, headers = await _request_for(ctx, method, path, role, relation)
        before = await row_counts(services) if not allowed else None
        sent = {"data": body} if isinstance(body, bytes) else {"json": body}
        resp = await client.request(method, url, headers=headers, **sent)
        text = await resp.text(errors="replace")
        payload = await resp.json() if resp.content_type == "application/json" and text else None
        got = _verdict(resp.status, payload, expected=NOT_2XX.get((method, path, relation)))
        want = "Y" if allowed else "N"
        where = f"{method} {path} as {role}" + (f" on {relation}" if relation else "")
        if got != want:
            mismatches.append(f"{where}: expected {want}, got {resp.status} {text[:200]}")
        elif allowed and not _succeeded(method, path, relation, resp.status, payload):
            mismatches.append(f"{where}: allowed, but answered {resp.status} {text[:200]}")
        elif before is not None and await row_counts(services) != before:
            mismatches.append(f"{where}: denied, but rows were written")
    # Throwaway targets kept the world intact: every actor is still signed in and the
    # policy rule still has the config it started with.
    for role in ROLES:
        assert (await client.get("/api/me", headers=ctx.headers[role])).status == 200, role
    resp = await client.get("/api/policies", headers=ctx.headers["admin"])
    rules = {r["rule_id"]: r["config"] for r in (await resp.json())["rules"]}
    assert rules[POLICY_RULE] == ctx.policy_config
    assert not mismatches, "\n".join(mismatches)


async def test_exceptions_stay_in_scope_when_face_to_face_first_is_off(api: Any) -> None:
    # face_to_face_first may be switched off by policy; scope may not. Granting an
    # exception is a write on the case, so a senior of another office is refused by scope
    # whatever the other rules say: the case is outside their scope, so it does not exist.
    client, services = api
    w = await world.build(services)
    admin, senior_b = await login(client, "admin"), await login(client, "senior_b")
    body = await (await client.get("/api/policies", headers=admin)).json()
    rules = {r["rule_id"]: r["config"] for r in body["rules"]}
    resp = await client.put("/api/policies/face_to_face_first", headers=admin,
                            json={"config": {**rules["face_to_face_first"], "enabled": False}, "reason": "test"})
    assert resp.status == 200, await resp.text()
    resp = await client.post(f"/api/cases/{w.cases['same_office']}/exceptions", headers=senior_b,
                             json={"days": 7, "reason": "Client in hospital"})
    assert resp.status == 404
    assert (await resp.json())["error"] == {"code": "not_found", "message": "No such case"}
