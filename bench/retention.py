"""Retention sweep under load: items removed per second, and what it does to live sends.

Seeds 1,000,000 messages in 10,000 expired (case, month) buckets (100 cases x 100
months x 100 messages) in a fresh SQLite database, then, in the same process and event
loop as a server's background sweeper would run, measures the latency of message sends
(``MessagingService.send``, the same action function the /ws gateway calls, so the
numbers hold whichever way the send path is implemented) first without the sweeper and
then while one sweep shreds and deletes everything. Prints one JSON object.

Seeding note: the cases, conversations and the 10,000 bucket keys are made through the
action functions and the keyring (keys wrapped under the KEK as in production); the
million message rows are then bulk-inserted with sqlite3 ``executemany``, each body
properly encrypted with its bucket's key and associated data by ``Keyring.encrypt``.
Inserting them one send at a time would take hours and measure nothing of retention.

Targets (issue 5): p99 of sends during the sweep <= 2x the p99 without it, and no send
waiting more than 250 ms because of the sweeper (``send_max_ms_with_sweep``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from bench._common import emit, machine, rnd, summarize_ms
from server.app import create_app
from server.clock import FakeClock
from server.identity.model import Actor, Role
from server.messaging.model import aad as _aad
from server.settings import Settings
from server.store.migrate import upgrade
from server.web.state import SERVICES, Services

SEND_GAP_S = 0.02  # one send every 20 ms, a busy office's worth
BY_STEP: dict[str, list[float]] = {}  # sweeper step (shred, purge, audit) -> latencies of sends started in it


def month(i: int) -> datetime:
    return datetime(2018 + i // 12, i % 12 + 1, 15, tzinfo=UTC)


async def seed(services: Services, clock: FakeClock, db_path: Path, cases: int, months: int,
               per_bucket: int) -> tuple[Actor, str]:
    ident = services.identity
    office = await ident.create_office(None, "Bench office")
    officer_id = await ident.create_user(None, username="officer", display_name="Officer", role=Role.OFFICER,
                                         office_id=office, password=None)
    officer = Actor(officer_id, "officer", "Officer", Role.OFFICER, office, "en", True)
    convs: list[tuple[str, str]] = []
    for c in range(cases):
        made = await services.cases.create_case(officer, client_username=f"client{c}", client_display_name=f"C{c}",
                                                officer_id=officer_id)
        rows = await services.messaging.conversations(officer)
        convs.append((made.case_id, next(str(r.id) for r, _ in rows if r.case_id == made.case_id)))
    started = time.perf_counter()
    batch: list[tuple[Any, ...]] = []
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA foreign_keys=ON")
    for c, (case_id, conv) in enumerate(convs):
        seq = 0
        async with services.store.write("bench.keys") as conn:
            for m in range(months):
                at = month(m)
                for _ in range(per_bucket):
                    seq += 1
                    key_id, blob = await services.keyring.encrypt(conn, case_id=case_id, category="messages", at=at,
                                                                  plaintext=f"message {seq}".encode(),
                                                                  aad=_aad(conv, seq))
                    batch.append((conv, seq, f"b{c}-{seq}", officer_id, "text", case_id, key_id, blob,
                                  at.strftime("%Y-%m-%d %H:%M:%S.%f")))
        db.executemany("INSERT INTO messages (conversation_id, seq, id, sender_id, kind, case_id, key_id, body, "
                       "sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
        db.execute("UPDATE conversations SET last_seq = ? WHERE id = ?", (seq, conv))
        db.commit()
        batch.clear()
    db.close()
    print(f"seeded {cases * months * per_bucket} messages in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    # A live case to send on during the sweep: a year after the last seeded month, with a meeting.
    clock.advance(month(months) + timedelta(days=730 + 62) - clock.now())
    live = await services.cases.create_case(officer, client_username="live", client_display_name="Live",
                                            officer_id=officer_id)
    await services.cases.record_face_to_face(officer, live.case_id, met_at=clock.now() - timedelta(hours=1),
                                             location="Office")
    rows = await services.messaging.conversations(officer)
    return officer, next(str(r.id) for r, _ in rows if r.case_id == live.case_id)


async def sends(services: Services, officer: Actor, conv: str, tag: str, *, count: int | None = None,
                until: asyncio.Task[Any] | None = None, steps: list[str] | None = None) -> list[float]:
    """Paced sends; with ``steps``, the sweeper's step at each send's start is noted per send."""
    out: list[float] = []
    i = 0
    while (count is not None and i < count) or (until is not None and not until.done()):
        start = time.perf_counter()
        step = steps[-1] if steps else "start"
        await services.messaging.send(officer, conv, f"{tag}-{i}", "still here")
        out.append(time.perf_counter() - start)
        if steps is not None:
            BY_STEP.setdefault(step, []).append(out[-1])
        i += 1
        await asyncio.sleep(SEND_GAP_S)
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="tandem-bench-retention-"))
    db_path = tmp / "tandem.db"
    url = f"sqlite+aiosqlite:///{db_path}"
    await asyncio.to_thread(upgrade, url)
    clock = FakeClock(datetime(2018, 1, 2, tzinfo=UTC))
    settings = Settings(database_url=url, data_dir=tmp, kek=os.urandom(32), require_staff_mfa=False,
                        log_json=True, retention_sweep_enabled=False)
    app = create_app(settings, clock=clock)
    runner = web.AppRunner(app)
    await runner.setup()
    services = app[SERVICES]
    try:
        officer, conv = await seed(services, clock, db_path, args.cases, args.months, args.per_bucket)
        total = args.cases * args.months * args.per_bucket
        without = await sends(services, officer, conv, "idle", count=args.baseline_sends)
        steps: list[str] = []

        async def note(step: str, _rows: int) -> None:
            if not steps or steps[-1] != step:
                steps.append(step)

        services.retention.sweeper.progress = note
        started = time.perf_counter()
        sweep = asyncio.get_running_loop().create_task(services.retention.sweeper.run())
        with_sweep = await sends(services, officer, conv, "sweep", until=sweep, steps=steps)
        receipt = await sweep
        elapsed = time.perf_counter() - started
    finally:
        await runner.cleanup()
    idle, busy = summarize_ms(without), summarize_ms(with_sweep)
    removed = int(receipt["counts"].get("messages", 0))
    result = {
        "bench": "retention",
        "store": "sqlite",
        "messages_seeded": total,
        "buckets": args.cases * args.months,
        "messages_removed": removed,
        "sweep_s": rnd(elapsed),
        "items_per_s": rnd(removed / elapsed, 1),
        "chunk_rows_max": settings.retention_chunk_rows,
        "chunk_budget_ms": services.retention.sweeper.chunk_budget_s * 1000,
        "pause_ratio": settings.retention_pause_ratio,
        "send_p99_ms_without_sweep": idle["p99_ms"],
        "send_p99_ms_with_sweep": busy["p99_ms"],
        "send_max_ms_without_sweep": idle["max_ms"],
        "send_max_ms_with_sweep": busy["max_ms"],
        # The longest one sweeper transaction held the store (queued behind the writer lock
        # included): the most any send can have waited *because of* the sweeper.
        "sweeper_longest_transaction_ms": rnd(services.retention.sweeper.longest_hold_s * 1000),
        "sweeper_longest_ms_by_transaction": {name: rnd(s * 1000) for name, s
                                              in services.retention.sweeper.longest_by_name.items()},
        "sends_without_sweep": idle,
        "sends_with_sweep": busy,
        "sends_with_sweep_by_step": {step: summarize_ms(v) for step, v in BY_STEP.items()},
        "machine": machine(),
    }
    result["ok"] = (removed == total and busy["p99_ms"] <= 2 * idle["p99_ms"]
                    and result["sweeper_longest_transaction_ms"] <= 250)
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=100)
    p.add_argument("--months", type=int, default=100)
    p.add_argument("--per-bucket", type=int, default=100)
    p.add_argument("--baseline-sends", type=int, default=2000)
    p.add_argument("--quick", action="store_true", help="10 cases x 20 months x 50 messages")
    a = p.parse_args()
    if a.quick:
        a.cases, a.months, a.per_bucket, a.baseline_sends = 10, 20, 50, 100
    emit(asyncio.run(main(a)))
