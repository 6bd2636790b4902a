"""group safe space: the safe-space check before a live group session, kept by the server

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 08:30:00.000000

A participant's answers are sealed in their case's bucket (safe_space_answers); staff rows
keep only side, verdict and time.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('group_safe_space',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=True),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['group_sessions.id'],
                            name=op.f('fk_group_safe_space_session_id_group_sessions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_group_safe_space_user_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_group_safe_space_case_id_cases')),
    sa.ForeignKeyConstraint(['key_id'], ['data_keys.id'], name=op.f('fk_group_safe_space_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_safe_space'))
    )
    op.create_index(op.f('ix_group_safe_space_session_id'), 'group_safe_space', ['session_id'], unique=False)
    op.create_index(op.f('ix_group_safe_space_case_id'), 'group_safe_space', ['case_id'], unique=False)
    op.create_index(op.f('ix_group_safe_space_key_id'), 'group_safe_space', ['key_id'], unique=False)
    op.create_index('ix_group_safe_space_session_user', 'group_safe_space', ['session_id', 'user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_group_safe_space_session_user', table_name='group_safe_space')
    op.drop_index(op.f('ix_group_safe_space_key_id'), table_name='group_safe_space')
    op.drop_index(op.f('ix_group_safe_space_case_id'), table_name='group_safe_space')
    op.drop_index(op.f('ix_group_safe_space_session_id'), table_name='group_safe_space')
    op.drop_table('group_safe_space')
