"""how programme-group members see one another: a per-cohort setting

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing groups keep what their members saw until now: first names.
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member_names', sa.String(length=16), nullable=False,
                                      server_default='first_name'))


def downgrade() -> None:
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_column('member_names')
