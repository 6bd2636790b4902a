"""mentoring periods: period start, the conversation's access end, activities, outcomes, the mentoring rule

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 07:30:00.000000

Assignments made before keep no end (open-ended) until an officer
sets one by extending them.
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

#: The mentoring rule as policies/mentoring.toml held it when this revision was written: added to
#: every stored policy version, which would otherwise no longer load (every rule has a document).
MENTORING_DOCUMENT = '''# mentoring, added by migration 0014 with its default values

[mentoring]
title = "Mentoring periods"
source = "Romanian Probation Service, mentoring programme for Roma offenders (2015): an 8-month mentoring period; GDPR art. 5(1)(c) and 25"
default_period_days = 240
max_period_days = 730
outcome_days = 30
'''


def _documents(value: Any) -> dict[str, str]:
    return dict(json.loads(value) if isinstance(value, str) else value)


def _log_table(name: str, *columns: sa.Column[Any]) -> None:
    op.create_table(name,
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('assignment_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    *columns,
    sa.Column('recorded_by', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['mentor_assignments.id'],
                            name=op.f(f'fk_{name}_assignment_id_mentor_assignments')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f(f'fk_{name}_case_id_cases')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f(f'fk_{name}_recorded_by_users')),
    sa.ForeignKeyConstraint(['key_id'], ['data_keys.id'], name=op.f(f'fk_{name}_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}'))
    )
    op.create_index(op.f(f'ix_{name}_case_id'), name, ['case_id'], unique=False)
    op.create_index(op.f(f'ix_{name}_key_id'), name, ['key_id'], unique=False)


def upgrade() -> None:
    with op.batch_alter_table('mentor_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('starts_on', sa.Date(), nullable=True))
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_ends_at', sa.DateTime(timezone=True), nullable=True))
    _log_table('mentoring_activities', sa.Column('kind', sa.String(length=24), nullable=False),
               sa.Column('done_on', sa.Date(), nullable=False), sa.Column('minutes', sa.Integer(), nullable=False))
    op.create_index('ix_mentoring_activities_assignment', 'mentoring_activities', ['assignment_id', 'done_on'],
                    unique=False)
    _log_table('mentoring_outcomes', sa.Column('party', sa.String(length=8), nullable=False),
               sa.Column('outcome', sa.String(length=16), nullable=False))
    op.create_index('ix_mentoring_outcomes_party', 'mentoring_outcomes', ['assignment_id', 'party'], unique=True)

    versions = sa.table('policy_versions', sa.column('version', sa.Integer), sa.column('documents', sa.JSON))
    conn = op.get_bind()
    for version, documents in conn.execute(sa.select(versions.c.version, versions.c.documents)).all():
        docs = _documents(documents)
        docs.setdefault("mentoring", MENTORING_DOCUMENT)
        conn.execute(versions.update().where(versions.c.version == version).values(documents=docs))


def downgrade() -> None:
    versions = sa.table('policy_versions', sa.column('version', sa.Integer), sa.column('documents', sa.JSON))
    conn = op.get_bind()
    for version, documents in conn.execute(sa.select(versions.c.version, versions.c.documents)).all():
        docs = _documents(documents)
        docs.pop("mentoring", None)
        conn.execute(versions.update().where(versions.c.version == version).values(documents=docs))
    for name in ('mentoring_outcomes', 'mentoring_activities'):
        op.drop_table(name)
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('access_ends_at')
    with op.batch_alter_table('mentor_assignments', schema=None) as batch_op:
        batch_op.drop_column('starts_on')
