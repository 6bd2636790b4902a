"""A month of live group sessions for the demo (issue 16: "so `make serve` shows the figures to a
newcomer"): four weekly sessions of one cohort of the demo's history clients, each with its
confirmed register and a handful of answers to "How did this go?" from participants who attended
and from the facilitator.

As with ``history.py``, the action functions refuse the past (a session is scheduled ahead, a
register confirmed once it has started, feedback given from its window on, all by the clock of
now), so these are the rows they would have written: the sessions, the register's lines sealed
under each case's ``group_attendance`` key, and the answers, a comment sealed as
``server/groups/feedback.py`` seals it (a participant's under their case, the facilitator's under
the cohort, both ``feedback_comments``). The same seed gives the same registers and faces.
Demo only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from server.crypto.keyring import Keyring
from server.evaluation import store as q
from server.groups.attendance import CATEGORY as ATTENDANCE
from server.groups.attendance import aad as attendance_aad
from server.groups.feedback import CATEGORY as COMMENTS
from server.groups.feedback import comment_aad
from server.ids import new_id
from server.store.tx import Store

#: The register's word for a participant, most attend.
STATUSES = ("attended",) * 6 + ("partly", "absent", "excused")
#: The few comments, by session: (the first participant who attended's, the facilitator's).
COMMENTED = {0: ("Good to hear how the others handle the same things.", "Lively start; everyone spoke."),
             2: ("Too long for me after work.", "")}


@dataclass(frozen=True)
class Participant:
    case_id: str
    client_id: str


async def load(store_: Store, keyring: Keyring, *, cohort_id: str, office_id: str, facilitator_id: str,
               participants: list[Participant], now: datetime, seed: int = 17) -> int:
    """Four weekly sessions of ``cohort_id`` ending within the last week, their registers and the
    answers. Returns the number of answers written."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    first = now.replace(hour=17, minute=0, second=0, microsecond=0) - timedelta(days=27)
    sessions: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    async with store_.write("demo.group_history") as conn:
        for index in range(4):
            starts = first + timedelta(days=7 * index)
            ends = starts + timedelta(minutes=90)
            confirmed = ends + timedelta(minutes=10)
            session_id = new_id()
            sessions.append({"id": session_id, "cohort_id": cohort_id, "office_id": office_id, "starts_at": starts,
                             "ends_at": ends, "series_id": None, "series_index": None, "sequence": 0,
                             "status": "scheduled", "room_id": None, "home_node": None, "created_by": facilitator_id,
                             "created_at": first - timedelta(days=7), "cancelled_by": None, "cancelled_at": None,
                             "register_confirmed_by": facilitator_id, "register_confirmed_at": confirmed})
            client_comment, staff_comment = COMMENTED.get(index, ("", ""))
            for p in participants:
                status = rng.choice(STATUSES)
                present = status in ("attended", "partly")
                minutes = (90 if status == "attended" else rng.randint(30, 70)) if present else 0
                line_id = new_id()
                body = {"minutes_present": minutes, "drops": 0, "late": False, "in_room": False,
                        "poor_quality": False,
                        "first_arrived_at": (starts - timedelta(minutes=3)).isoformat() if present else None,
                        "last_left_at": (starts + timedelta(minutes=minutes)).isoformat() if present else None,
                        "suggested": status if present else "absent", "note": ""}
                key_id, blob = await keyring.encrypt(conn, case_id=p.case_id, category=ATTENDANCE, at=confirmed,
                                                     plaintext=msgspec.json.encode(body),
                                                     aad=attendance_aad("group_attendance", line_id, session_id))
                lines.append({"id": line_id, "session_id": session_id, "user_id": p.client_id, "case_id": p.case_id,
                              "status": status, "key_id": key_id, "body": blob, "confirmed_by": facilitator_id,
                              "confirmed_at": confirmed})
                if present and (rng.random() < 0.7 or client_comment):  # the question is optional
                    answers.append(await _answer(conn, keyring, rng, session_id, cohort_id, office_id, p.case_id,
                                                 p.client_id, ends, client_comment))
                    client_comment = ""
            answers.append(await _answer(conn, keyring, rng, session_id, cohort_id, office_id, None, facilitator_id,
                                         confirmed, staff_comment))
        await q.insert_rows(conn, "group_sessions", sessions)
        await q.insert_rows(conn, "group_attendance", lines)
        await q.insert_rows(conn, "group_feedback", answers)
    return len(answers)


async def _answer(conn: Any, keyring: Keyring, rng: random.Random, session_id: str, cohort_id: str, office_id: str,
                  case_id: str | None, user_id: str, at: datetime, comment: str) -> dict[str, Any]:
    row_id = new_id()
    faces = (3, 3, 3, 2, 2, 1) if case_id is not None else (3, 2, 2)
    key_id, blob = None, None
    if comment:
        key_id, blob = await keyring.encrypt(conn, case_id=case_id or cohort_id, category=COMMENTS, at=at,
                                             plaintext=comment.encode(), aad=comment_aad(row_id, session_id))
    return {"id": row_id, "session_id": session_id, "cohort_id": cohort_id, "case_id": case_id,
            "office_id": office_id, "user_id": user_id, "side": "client" if case_id is not None else "staff",
            "face": rng.choice(faces), "given_at": at + timedelta(minutes=rng.randint(1, 20)), "key_id": key_id,
            "comment": blob}
