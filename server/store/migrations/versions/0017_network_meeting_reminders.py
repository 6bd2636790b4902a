"""network meetings remind their members: network_meetings (when, in clear), network_meeting_reminders (once each)

A network meeting (issue 16, TUKO stage 2) is kept in the network's encrypted document; this
adds its time in clear so the reminder task finds it, and one row per reminder sent, unique per
(meeting, recipient, offset), as appointments and group sessions have. Meetings scheduled
before this revision get no reminders (their rows do not exist).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 12:30:00.000000

Numbered 0017 while other work takes 0016; whoever merges sets ``down_revision`` to the
revision before it.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('network_meetings',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_network_meetings_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_meetings'))
    )
    with op.batch_alter_table('network_meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_meetings_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_meetings_starts_at'), ['starts_at'], unique=False)
    op.create_table('network_meeting_reminders',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('meeting_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('offset_s', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['network_meetings.id'],
        name=op.f('fk_network_meeting_reminders_meeting_id_network_meetings')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_network_meeting_reminders_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_meeting_reminders')),
    sa.UniqueConstraint('meeting_id', 'user_id', 'offset_s', name='uq_network_meeting_reminders_once')
    )
    with op.batch_alter_table('network_meeting_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_meeting_reminders_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('network_meeting_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_meeting_reminders_user_id'))
    op.drop_table('network_meeting_reminders')
    with op.batch_alter_table('network_meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_meetings_starts_at'))
        batch_op.drop_index(batch_op.f('ix_network_meetings_case_id'))
    op.drop_table('network_meetings')
