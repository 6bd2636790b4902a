"""room homes and leases (issue 15)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 12:20:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('room_homes',
    sa.Column('room_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('home_node', sa.String(length=120), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('room_id', name=op.f('pk_room_homes'))
    )
    with op.batch_alter_table('room_homes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_room_homes_lease_until'), ['lease_until'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('room_homes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_room_homes_lease_until'))
    op.drop_table('room_homes')
