"""network meeting safe space: the safe-space check before a case-network meeting by video

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 23:40:00.000000

The client's answers are sealed in their case's bucket (safe_space_answers); staff and
partner rows keep only side, verdict and time.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('network_meeting_safe_space',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('meeting_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=True),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['network_meetings.id'],
                            name=op.f('fk_network_meeting_safe_space_meeting_id_network_meetings')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_network_meeting_safe_space_user_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_network_meeting_safe_space_case_id_cases')),
    sa.ForeignKeyConstraint(['key_id'], ['data_keys.id'],
                            name=op.f('fk_network_meeting_safe_space_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_meeting_safe_space'))
    )
    op.create_index(op.f('ix_network_meeting_safe_space_case_id'), 'network_meeting_safe_space', ['case_id'],
                    unique=False)
    op.create_index(op.f('ix_network_meeting_safe_space_key_id'), 'network_meeting_safe_space', ['key_id'],
                    unique=False)
    op.create_index('ix_network_meeting_safe_space_meeting_user', 'network_meeting_safe_space',
                    ['meeting_id', 'user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_network_meeting_safe_space_meeting_user', table_name='network_meeting_safe_space')
    op.drop_index(op.f('ix_network_meeting_safe_space_key_id'), table_name='network_meeting_safe_space')
    op.drop_index(op.f('ix_network_meeting_safe_space_case_id'), table_name='network_meeting_safe_space')
    op.drop_table('network_meeting_safe_space')
