"""Where each live room is hosted (issue 15): one row per room, check-in or group session.

``home_node`` is the node whose memory holds the room (its lobby, its peers, its server-side
media) and ``lease_until`` how long that claim holds unless renewed; ``epoch`` grows with
every change of home, so a node that lost its lease cannot overwrite its successor's
``snapshot`` (who was in the room, for the successor to restore: ids, roles and states only,
no evidence). No foreign key: the id is a check-in's or a group session's, and retention
deletes those rows with their bucket. Design note: docs/cluster.md.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from server.store.types import UTCDateTime, metadata

room_homes = Table(
    "room_homes", metadata,
    Column("room_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # checkin | group
    Column("home_node", String(120), nullable=True),  # None: released (a drain), any node may claim it
    Column("lease_until", UTCDateTime, nullable=False, index=True),
    Column("epoch", Integer, nullable=False),
    Column("snapshot", Text, nullable=True),  # JSON: the seats to restore on a takeover
)
