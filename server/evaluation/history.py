"""A month of check-in history for the demo (issue 16: "so `make serve` shows the figures to a
newcomer"), on the demo's history clients.

The action functions refuse the past (an appointment is scheduled ahead; an outcome is recorded
once its window has opened, by the clock of now), so a month that has already happened cannot
be made through them. These are the rows they would have written, and nothing else: appointments
with their outcomes (no notes), the check-ins of the video ones with their admission time,
"can't talk now" alerts already acknowledged, failed safe-space answers sealed as the check-in
service seals them, and the faces of "How did this go?" (no comments). Demo only.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from server.checkins import evidence
from server.crypto.keyring import Keyring
from server.evaluation import store as q
from server.ids import new_id
from server.store.tx import Store

KINDS = ("video", "video", "phone", "in_person")
OUTCOMES = ("attended",) * 7 + ("late", "missed", "technical_failure")


def _appointment(rng: random.Random, case: Any, officer_id: str, start: datetime) -> dict[str, Any]:
    kind = rng.choice(KINDS)
    cancelled = rng.random() < 0.1
    outcome = None if cancelled else rng.choice(OUTCOMES)
    return {"id": new_id(), "case_id": case.case_id, "client_id": case.client_id, "officer_id": officer_id,
            "kind": kind, "status": "cancelled" if cancelled else "scheduled", "starts_at": start,
            "ends_at": start + timedelta(minutes=30),
            "location": "Demo Probation Office" if kind == "in_person" else None,
            "sequence": 0, "outcome": outcome, "outcome_by": None if cancelled else officer_id,
            "outcome_at": None if cancelled else start + timedelta(minutes=40),
            "cancelled_by": officer_id if cancelled else None,
            "cancelled_at": start - timedelta(days=1) if cancelled else None,
            "created_by": officer_id, "created_at": start - timedelta(days=14)}


def _checkin(rng: random.Random, a: dict[str, Any]) -> dict[str, Any]:
    opens = a["starts_at"] - timedelta(minutes=10)
    let_in = a["outcome"] in ("attended", "late", "technical_failure")
    return {"id": new_id(), "case_id": a["case_id"], "appointment_id": a["id"], "opens_at": opens,
            "closes_at": a["ends_at"] + timedelta(minutes=15), "state": "closed", "created_by": a["officer_id"],
            "created_at": a["created_at"], "updated_at": a["outcome_at"], "outcome": a["outcome"],
            "outcome_by": a["officer_id"], "outcome_at": a["outcome_at"],
            "admitted_at": opens + timedelta(minutes=rng.randint(6, 22)) if let_in else None}


async def load(store_: Store, keyring: Keyring, *, cases: list[Any], officer_id: str, office_id: str,
               now: datetime, seed: int = 16) -> int:
    """Four weeks of weekly appointments for each of ``cases`` (CreatedCase), ending yesterday.
    Returns the number of appointments written."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    appointments: list[dict[str, Any]] = []
    checkins: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    for case in cases:
        first = now.replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=28 + rng.randint(0, 3))
        for week in range(4):
            a = _appointment(rng, case, officer_id, first + timedelta(days=7 * week, hours=rng.randint(0, 7)))
            appointments.append(a)
            if a["kind"] != "video" or a["status"] == "cancelled":
                continue
            c = _checkin(rng, a)
            checkins.append(c)
            if c["admitted_at"] is None:
                continue
            for side, user_id, faces in (("client", case.client_id, (3, 3, 3, 2, 2, 1)),
                                         ("staff", officer_id, (3, 3, 2, 2, 1))):
                if rng.random() < 0.8:  # the question is optional
                    feedback.append({"id": new_id(), "checkin_id": c["id"], "case_id": case.case_id,
                                     "office_id": office_id, "user_id": user_id, "side": side,
                                     "face": rng.choice(faces), "given_at": a["outcome_at"]})
    async with store_.write("demo.evaluation_history") as conn:
        await q.insert_rows(conn, "appointments", appointments)
        await q.insert_rows(conn, "checkins", checkins)
        await q.insert_rows(conn, "feedback", feedback)
        # Two clients could not talk safely once each: one alert, one failed check apiece.
        alerts, answers = [], []
        for c in checkins[:2]:
            alerts.append({"id": new_id(), "user_id": officer_id, "kind": "cant_talk_safely", "case_id": c["case_id"],
                           "checkin_id": c["id"], "created_at": c["opens_at"] + timedelta(minutes=3),
                           "resolved_at": c["outcome_at"], "resolution": "acknowledged"})
            row_id = new_id()
            key_id, blob = await evidence.seal(
                keyring, conn, case_id=c["case_id"], category=evidence.ANSWERS, at=c["opens_at"],
                table="safe_space_answers", row_id=row_id, checkin_id=c["id"],
                body={"answers": {}, "verdict": "cant_talk", "unsafe": []})
            client_id = next(x.client_id for x in cases if x.case_id == c["case_id"])
            answers.append({"id": row_id, "checkin_id": c["id"], "case_id": c["case_id"], "user_id": client_id,
                            "side": "client", "passed": False, "at": c["opens_at"] + timedelta(minutes=3),
                            "key_id": key_id, "body": blob})
        await q.insert_rows(conn, "staff_alerts", alerts)
        await q.insert_rows(conn, "safe_space_answers", answers)
    return len(appointments)
