"""Check-in evidence: sealing rows under bucket keys, and summarising them for the officer.

Joined/left times and the check-in's events are ``checkin_records``; stats samples are
``call_quality``; safe-space answers are ``safe_space_answers`` (policies/retention.toml).
Each row is ciphertext under the case's bucket key of its category, so when retention
shreds a bucket the rows become unreadable and are skipped here as if they never were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from server.checkins import store
from server.checkins.outcomes import Evidence, Quality, Sample, Suggestion, suggest, summarise
from server.crypto.keyring import Keyring, KeyShredded
from server.ids import new_id

RECORDS = "checkin_records"
QUALITY = "call_quality"
ANSWERS = "safe_space_answers"
DEPARTURES = ("left", "gone", "ended", "cant_talk")
# "gone": a dropped connection not back within the grace period. "interrupted": the room's
# server died or drained and another took the call over; whoever comes back resumes the call,
# whoever does not is a drop. Both are technical, never absence.


def aad(table: str, row_id: str, checkin_id: str) -> bytes:
    return f"{table}|{row_id}|{checkin_id}".encode()


async def seal(keyring: Keyring, conn: AsyncConnection, *, case_id: str, category: str, at: datetime, table: str,
               row_id: str, checkin_id: str, body: object) -> tuple[str, bytes]:
    return await keyring.encrypt(conn, case_id=case_id, category=category, at=at,
                                 plaintext=msgspec.json.encode(body), aad=aad(table, row_id, checkin_id))


async def add_event(keyring: Keyring, conn: AsyncConnection, *, checkin_id: str, case_id: str, at: datetime,
                    body: dict[str, Any]) -> None:
    row_id = new_id()
    key_id, blob = await seal(keyring, conn, case_id=case_id, category=RECORDS, at=at, table="checkin_events",
                              row_id=row_id, checkin_id=checkin_id, body=body)
    await store.insert_event(conn, id=row_id, checkin_id=checkin_id, case_id=case_id, at=at, key_id=key_id, body=blob)


async def _open_all(keyring: Keyring, conn: AsyncConnection, rows: list[Any], table: str) -> list[tuple[Any, Any]]:
    out: list[tuple[Any, Any]] = []
    for row in rows:
        try:
            plain = await keyring.decrypt(conn, key_id=row.key_id, blob=row.body,
                                          aad=aad(table, row.id, row.checkin_id))
        except KeyShredded:
            continue
        out.append((row, msgspec.json.decode(plain)))
    return out


@dataclass(frozen=True)
class Summary:
    participants: list[dict[str, Any]]
    quality: Quality
    dropped: bool
    #: The call was taken over by another server (a technical interruption) and resumed.
    interrupted: bool
    cant_talk: bool
    suggestion: Suggestion


async def summarise_checkin(keyring: Keyring, conn: AsyncConnection, checkin: Any) -> Summary:
    events = await _open_all(keyring, conn, await store.events(conn, checkin.id), "checkin_events")
    # Rows at one instant have no order of their own (ids are random). A takeover notes its
    # interruptions before anyone can rejoin the room, so at one instant they come first.
    events.sort(key=lambda e: (e[0].at, e[1].get("kind") != "interrupted"))
    samples = await _open_all(keyring, conn, await store.quality(conn, checkin.id), "call_quality")
    people: dict[str, dict[str, Any]] = {}
    client_arrived: datetime | None = None
    client_connected = dropped = cant_talk = interrupted = False
    away: set[str] = set()  # interrupted by a takeover and not back yet
    for row, body in events:
        kind, user_id, role = body.get("kind"), body.get("user_id"), body.get("role")
        if not isinstance(user_id, str):
            continue
        person = people.setdefault(user_id, {"user_id": user_id, "role": role, "joined_at": [], "left_at": []})
        if kind in ("joined", "rejoined"):
            person["joined_at"].append(row.at)
            if role == "client" and client_arrived is None:
                client_arrived = row.at
        elif kind in DEPARTURES or kind in ("dropped", "interrupted"):
            person["left_at"].append(row.at)
        if kind == "admitted" and role == "client":
            client_connected = True
        if kind == "interrupted":
            interrupted = True
            away.add(user_id)
        elif kind in ("joined", "rejoined") or kind in DEPARTURES:
            away.discard(user_id)
        dropped = dropped or kind == "gone"
        cant_talk = cant_talk or (kind == "cant_talk" and role == "client")
    dropped = dropped or bool(away)
    quality = summarise([Sample(rtt_ms=b["rtt_ms"], loss_pct=b["loss_pct"], bitrate_kbps=b["bitrate_kbps"])
                         for _row, b in samples])
    suggestion = suggest(Evidence(opens_at=checkin.opens_at, client_arrived_at=client_arrived,
                                  client_connected=client_connected, dropped=dropped, cant_talk=cant_talk,
                                  quality=quality, interrupted=interrupted))
    return Summary(list(people.values()), quality, dropped, interrupted, cant_talk, suggestion)
