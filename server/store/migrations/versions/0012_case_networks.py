"""case networks (TUKO): networks, network member end dates, the networks policy rule

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 10:00:00.000000

Numbered 0011, not 0009: 0009 and 0010 were left to work done in parallel; whoever merges
sets ``down_revision`` to the revision before it.
"""
from __future__ import annotations

import json
import tomllib
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

#: The networks rule as policies/networks.toml held it when this revision was written: added to
#: every stored policy version, which would otherwise no longer load (every rule has a document).
NETWORKS_DOCUMENT = '''# networks, added by migration 0011 with its default values

[networks]
title = "Case networks"
source = "Estonian Prison and Probation Service, TUKO framework for safe cooperation, stages 1-4; GDPR art. 5(1)(c) and 25"
victim_protection_flags = ["protected_person"]
max_access_days = 365
'''
NETWORK_RECORDS_DAYS = 1825


def _retention_with_network_records(text: str) -> str:
    """The stored retention document with a network_records category (five years, as case notes,
    or the audit log's period when an admin made that shorter: it must outlive the records)."""
    data = tomllib.loads(text)
    categories = data["retention"]["categories"]
    if "network_records" in categories:
        return text
    days = min(NETWORK_RECORDS_DAYS, int(categories["audit_log"]["period_days"]))
    return (text.rstrip("\n") + "\n\n# Added by migration 0011 (case networks).\n"
            f"[retention.categories.network_records]\nperiod_days = {days}\naction = \"shred\"\n")


def _documents(value: Any) -> dict[str, str]:
    return dict(json.loads(value) if isinstance(value, str) else value)


def upgrade() -> None:
    with op.batch_alter_table('network_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('agency', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('ends_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('networks',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('process', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('stage_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_networks_case_id_cases')),
    sa.ForeignKeyConstraint(['key_id'], ['data_keys.id'], name=op.f('fk_networks_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_networks')),
    sa.UniqueConstraint('case_id', name=op.f('uq_networks_case_id'))
    )
    op.create_index(op.f('ix_networks_key_id'), 'networks', ['key_id'], unique=False)
    op.create_index('ix_networks_stage', 'networks', ['stage'], unique=False)

    versions = sa.table('policy_versions', sa.column('version', sa.Integer), sa.column('documents', sa.JSON))
    conn = op.get_bind()
    for version, documents in conn.execute(sa.select(versions.c.version, versions.c.documents)).all():
        docs = _documents(documents)
        docs.setdefault("networks", NETWORKS_DOCUMENT)
        if "retention" in docs:
            docs["retention"] = _retention_with_network_records(docs["retention"])
        conn.execute(versions.update().where(versions.c.version == version).values(documents=docs))


def downgrade() -> None:
    versions = sa.table('policy_versions', sa.column('version', sa.Integer), sa.column('documents', sa.JSON))
    conn = op.get_bind()
    for version, documents in conn.execute(sa.select(versions.c.version, versions.c.documents)).all():
        docs = _documents(documents)
        docs.pop("networks", None)
        if "retention" in docs:
            text = docs["retention"]
            cut = text.find("\n\n# Added by migration 0011 (case networks).\n")
            docs["retention"] = text[:cut] + "\n" if cut >= 0 else text
        conn.execute(versions.update().where(versions.c.version == version).values(documents=docs))
    op.drop_index('ix_networks_stage', table_name='networks')
    op.drop_index(op.f('ix_networks_key_id'), table_name='networks')
    op.drop_table('networks')
    with op.batch_alter_table('network_members', schema=None) as batch_op:
        batch_op.drop_column('ended_at')
        batch_op.drop_column('ends_on')
        batch_op.drop_column('agency')
        batch_op.drop_column('kind')
