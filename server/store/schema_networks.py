"""The schema of case networks (TUKO, issue 16); their members are ``schema.network_members``."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from server.store.types import ID, UTCDateTime, metadata

#: A case's network (TUKO, issue 16): its processes as one document, ciphertext under the case's
#: ``network_records`` key of the month last written; ``stage``, ``process`` in clear for lists.
networks = Table(
    "networks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False, unique=True),
    Column("process", Integer, nullable=False),  # the current process's number
    Column("stage", String(32), nullable=False),
    Column("stage_since", UTCDateTime, nullable=False),
    Column("revision", Integer, nullable=False),  # bumped on every write: a lost race is a conflict
    Column("key_id", ID, ForeignKey("data_keys.id"), nullable=False, index=True),
    Column("body", LargeBinary, nullable=False),  # AES-256-GCM ciphertext of machine.NetworkState
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_networks_stage", "stage"),
)
