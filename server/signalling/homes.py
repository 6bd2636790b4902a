"""Room homes and their leases in the database (issue 15; design note: docs/cluster.md).

A room (a check-in's, later a group session's) lives in the memory of one node, its home.
The home is a row in ``room_homes`` with a lease the home renews; a node may claim a room
whose lease has lapsed (its home died or was paused) or was released (its home drained).
Every claim is a compare-and-set on ``epoch``, so when two nodes claim one room at once
exactly one wins, on SQLite as on PostgreSQL; the loser reads who won. A claim that
replaces another node hands over the ``snapshot`` the old home kept (who was in the room),
and writes from a node that lost its lease (a snapshot, a release) match no row.

Lease times come from the node's clock; a node whose clock runs ahead would see leases
lapse early, so the lease (``TANDEM_ROOM_LEASE_S``) must exceed the skew NTP allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.clock import Clock
from server.errors import Conflict
from server.store.schema_cluster import room_homes
from server.store.tx import Store


@dataclass(frozen=True)
class Home:
    room_id: str
    home_node: str | None
    lease_until: datetime
    epoch: int
    snapshot: str | None

    def live(self, now: datetime) -> bool:
        return self.home_node is not None and self.lease_until > now


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: ``won`` and this node is home at ``epoch``; else ``home`` is who is."""

    won: bool
    home: str | None
    epoch: int
    taken_over_from: str | None = None  # a won claim that replaced a lapsed or released home
    snapshot: str | None = None  # what that home left: the seats to restore


async def _row(conn: AsyncConnection, room_id: str) -> Home | None:
    r = (await conn.execute(select(room_homes).where(room_homes.c.room_id == room_id))).first()
    return None if r is None else Home(r.room_id, r.home_node, r.lease_until, r.epoch, r.snapshot)


class RoomHomes:
    def __init__(self, store: Store, clock: Clock, node_id: str, *, lease_s: float,
                 registry: CollectorRegistry | None = None) -> None:
        if lease_s <= 0:
            raise ValueError("a lease must last")
        self.store = store
        self.clock = clock
        self.node_id = node_id
        self.lease_s = lease_s
        self.taken_over = Counter("tandem_rooms_taken_over", "Rooms this node took over from another node",
                                  registry=registry)
        self.renewals_failed = Counter("tandem_room_lease_renewals_failed",
                                       "Lease renewals of this node's rooms that failed (database down) or "
                                       "found the lease lost", registry=registry)

    def _until(self) -> datetime:
        return self.clock.now() + timedelta(seconds=self.lease_s)

    async def home(self, room_id: str) -> Home | None:
        async with self.store.read("room.home") as conn:
            return await _row(conn, room_id)

    async def claim(self, room_id: str, kind: str = "checkin") -> Claim:
        """Become the room's home unless another node holds a live lease on it."""
        try:
            return await self._claim(room_id, kind)
        except Conflict:  # another node inserted the row first: it won
            row = await self.home(room_id)
            assert row is not None
            return Claim(False, row.home_node, row.epoch)

    async def _claim(self, room_id: str, kind: str) -> Claim:
        now, until, me = self.clock.now(), self._until(), self.node_id
        async with self.store.write("room.claim") as conn:
            row = await _row(conn, room_id)
            if row is None:
                await conn.execute(insert(room_homes).values(room_id=room_id, kind=kind, home_node=me,
                                                             lease_until=until, epoch=1))
                return Claim(True, me, 1)
            if row.live(now) and row.home_node != me:
                return Claim(False, row.home_node, row.epoch)
            if row.home_node == me and row.live(now):
                await conn.execute(update(room_homes).where(room_homes.c.room_id == room_id,
                                                            room_homes.c.epoch == row.epoch)
                                   .values(lease_until=until))
                return Claim(True, me, row.epoch)
            # Lapsed or released: compare-and-set on the epoch read, so of two claimers one wins.
            epoch = row.epoch + 1
            done = await conn.execute(update(room_homes).where(room_homes.c.room_id == room_id,
                                                               room_homes.c.epoch == row.epoch)
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
                               .values(home_node=None, lease_until=self.clock.now(), snapshot=snapshot))

    async def forget(self, room_id: str, epoch: int) -> None:
        """The room is over (ended, or everybody left): its row goes."""
        async with self.store.write("room.forget") as conn:
            await conn.execute(delete(room_homes).where(*self._mine(room_id, epoch)))

    def _mine(self, room_id: str, epoch: int) -> tuple[Any, ...]:
        return (room_homes.c.room_id == room_id, room_homes.c.home_node == self.node_id, room_homes.c.epoch == epoch)
