"""Room homes and their leases in the database (issue 15; design note: docs/cluster.md).

A room (a check-in's, later a group session's) lives in the memory of one node, its home.
The home is a row in ``room_homes`` with a lease the home renews; a node may claim a room
whose lease has lapsed (its home died or was paused) or was released (its home drained).
Every claim is a compare-and-set on ``epoch``, so when two nodes claim one room at once
exactly one wins, on SQLite as on PostgreSQL; the loser reads who won. A claim that
replaces another node hands over the ``snapshot`` the old home kept (who was in the room),
and writes from a node that lost its lease (a snapshot, a release) match no row.

Lease times are the database's, never a node's: every statement that grants, renews, releases
or judges a lease computes "now" in SQL (``db_now``), so a node whose clock is minutes off can
neither steal a live room nor keep a dead one (tests/integration/test_rooms_clock_skew.py).
A lease also never ends less than a lease length after the database (re)started (``lease_end``):
while it was down nobody could renew, and its return must not hand every room to whichever node
looked first (tests/integration/test_rooms_pg_restart.py). A failed renewal is retried at the
next tick.
When to renew is judged on this process's monotonic clock, which no wall-clock step moves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.errors import Conflict
from server.store.db_time import db_now, lease_end
from server.store.schema_cluster import room_homes
from server.store.tx import Store


@dataclass(frozen=True)
class Home:
    room_id: str
    home_node: str | None
    lease_until: datetime  # in the database's time
    epoch: int
    snapshot: str | None
    live: bool  # held, and its lease not lapsed by the database's clock when read


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: ``won`` and this node is home at ``epoch``; else ``home`` is who is."""

    won: bool
    home: str | None
    epoch: int
    taken_over_from: str | None = None  # a won claim that replaced a lapsed or released home
    snapshot: str | None = None  # what that home left: the seats to restore


def _lapsed(lease_s: float) -> Any:
    """Released, or its lease over by the database's clock: any node may claim the room."""
    return or_(room_homes.c.home_node.is_(None), lease_end(room_homes.c.lease_until, lease_s) <= db_now())


async def _row(conn: AsyncConnection, room_id: str, lease_s: float) -> Home | None:
    live = (room_homes.c.home_node.is_not(None)
            & (lease_end(room_homes.c.lease_until, lease_s) > db_now())).label("live")
    r = (await conn.execute(select(room_homes, live).where(room_homes.c.room_id == room_id))).first()
    return None if r is None else Home(r.room_id, r.home_node, r.lease_until, r.epoch, r.snapshot, bool(r.live))


class RoomHomes:
    def __init__(self, store: Store, node_id: str, *, lease_s: float,
                 registry: CollectorRegistry | None = None) -> None:
        if lease_s <= 0:
            raise ValueError("a lease must last")
        self.store = store
        self.node_id = node_id
        self.lease_s = lease_s
        self._next_renew = 0.0  # time.monotonic() of the next renewal due
        self.taken_over = Counter("tandem_rooms_taken_over", "Rooms this node took over from another node",
                                  registry=registry)
        self.renewals_failed = Counter("tandem_room_lease_renewals_failed",
                                       "Lease renewals of this node's rooms that failed (database down) or "
                                       "found the lease lost", registry=registry)

    def _until(self) -> Any:
        return db_now(self.lease_s)

    def renewal_due(self) -> bool:
        """Every third of a lease, on the monotonic clock: the lease runs in real (database) time,
        so its renewals do too, whatever the clock injected into the rest of the node says."""
        mono = time.monotonic()
        if mono < self._next_renew:
            return False
        self._next_renew = mono + self.lease_s / 3
        return True

    async def home(self, room_id: str) -> Home | None:
        async with self.store.read("room.home") as conn:
            return await _row(conn, room_id, self.lease_s)

    async def claim(self, room_id: str, kind: str = "checkin") -> Claim:
        """Become the room's home unless another node holds a live lease on it."""
        try:
            return await self._claim(room_id, kind)
        except Conflict:  # another node inserted the row first: it won
            row = await self.home(room_id)
            assert row is not None
            return Claim(False, row.home_node, row.epoch)

    async def _claim(self, room_id: str, kind: str) -> Claim:
        until, me = self._until(), self.node_id
        async with self.store.write("room.claim") as conn:
            row = await _row(conn, room_id, self.lease_s)
            if row is None:
                await conn.execute(insert(room_homes).values(room_id=room_id, kind=kind, home_node=me,
                                                             lease_until=until, epoch=1))
                return Claim(True, me, 1)
            if row.live and row.home_node != me:
                return Claim(False, row.home_node, row.epoch)
            if row.live:  # ours, still held: extend it
                await conn.execute(update(room_homes).where(room_homes.c.room_id == room_id,
                                                            room_homes.c.epoch == row.epoch)
                                   .values(lease_until=until))
                return Claim(True, me, row.epoch)
            # Lapsed or released: compare-and-set on the epoch read, so of two claimers one wins;
            # and lapsed still, by the database's clock, when written.
            epoch = row.epoch + 1
            done = await conn.execute(update(room_homes).where(room_homes.c.room_id == room_id,
                                                               room_homes.c.epoch == row.epoch, _lapsed(self.lease_s))
                                      .values(home_node=me, lease_until=until, epoch=epoch))
            if done.rowcount == 1:
                if row.home_node == me:  # our own lapsed lease, renewed late: nothing to take over
                    return Claim(True, me, epoch)
                self.taken_over.inc()
                return Claim(True, me, epoch, taken_over_from=row.home_node or "released", snapshot=row.snapshot)
        row = await self.home(room_id)
        return Claim(False, row.home_node if row else None, row.epoch if row else 0)

    async def renew(self, rooms: dict[str, int]) -> set[str]:
        """Extend this node's leases on ``rooms`` (room id -> epoch); returns the rooms it lost."""
        if not rooms:
            return set()
        until = self._until()
        try:
            async with self.store.write("room.renew") as conn:
                await conn.execute(update(room_homes).where(room_homes.c.room_id.in_(list(rooms)),
                                                            room_homes.c.home_node == self.node_id)
                                   .values(lease_until=until))
                rows = (await conn.execute(select(room_homes.c.room_id, room_homes.c.home_node, room_homes.c.epoch)
                                           .where(room_homes.c.room_id.in_(list(rooms))))).all()
        except Exception:
            self.renewals_failed.inc(len(rooms))
            self._next_renew = 0.0  # again at the next tick, not a third of a lease later: back at once
            raise
        held = {r.room_id for r in rows if r.home_node == self.node_id and r.epoch == rooms[r.room_id]}
        lost = set(rooms) - held
        if lost:
            self.renewals_failed.inc(len(lost))
        return lost

    async def keep(self, room_id: str, epoch: int, snapshot: str) -> None:
        """Store who is in the room, for whoever takes it over; a no-op once the lease is lost."""
        async with self.store.write("room.snapshot") as conn:
            await conn.execute(update(room_homes).where(*self._mine(room_id, epoch)).values(snapshot=snapshot))

    async def release(self, room_id: str, epoch: int, snapshot: str) -> None:
        """Hand the room to whichever node claims it next (a drain), with who was in it."""
        async with self.store.write("room.release") as conn:
            await conn.execute(update(room_homes).where(*self._mine(room_id, epoch))
                               .values(home_node=None, lease_until=db_now(), snapshot=snapshot))

    async def forget(self, room_id: str, epoch: int) -> None:
        """The room is over (ended, or everybody left): its row goes."""
        async with self.store.write("room.forget") as conn:
            await conn.execute(delete(room_homes).where(*self._mine(room_id, epoch)))

    def _mine(self, room_id: str, epoch: int) -> tuple[Any, ...]:
        return (room_homes.c.room_id == room_id, room_homes.c.home_node == self.node_id, room_homes.c.epoch == epoch)
