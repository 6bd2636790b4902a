"""group sessions in scheduling: reminders (once each), join link codes, link-limited sessions

``group_session_reminders`` records each reminder of a group session once;
``group_session_codes`` holds the one-time codes of participants' join links; a session opened
with such a code reaches that group session only (``sessions.group_session_id``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 07:30:00.000000

Numbered 0013 while other work may take 0014/0015; whoever merges sets ``down_revision``
to the revision before it.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('group_session_reminders',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('offset_s', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['group_sessions.id'],
        name=op.f('fk_group_session_reminders_session_id_group_sessions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_group_session_reminders_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_session_reminders')),
    sa.UniqueConstraint('session_id', 'user_id', 'offset_s', name='uq_group_session_reminders_once')
    )
    with op.batch_alter_table('group_session_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_session_reminders_user_id'), ['user_id'], unique=False)
    op.create_table('group_session_codes',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_group_session_codes_created_by_users')),
    sa.ForeignKeyConstraint(['session_id'], ['group_sessions.id'],
        name=op.f('fk_group_session_codes_session_id_group_sessions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_group_session_codes_user_id_users')),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_group_session_codes'))
    )
    with op.batch_alter_table('group_session_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_session_codes_session_id'), ['session_id'], unique=False)
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_session_id', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('group_session_id')
    with op.batch_alter_table('group_session_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_session_codes_session_id'))
    op.drop_table('group_session_codes')
    with op.batch_alter_table('group_session_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_session_reminders_user_id'))
    op.drop_table('group_session_reminders')
