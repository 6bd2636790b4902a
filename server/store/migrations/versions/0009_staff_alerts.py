"""staff alerts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_alerts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('checkin_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_staff_alerts_case_id_cases')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_alerts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_alerts'))
    )
    with op.batch_alter_table('staff_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_alerts_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_alerts_checkin_id'), ['checkin_id'], unique=False)
        batch_op.create_index('ix_staff_alerts_user_open', ['user_id', 'resolved_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staff_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_alerts_user_open')
        batch_op.drop_index(batch_op.f('ix_staff_alerts_checkin_id'))
        batch_op.drop_index(batch_op.f('ix_staff_alerts_case_id'))
    op.drop_table('staff_alerts')
