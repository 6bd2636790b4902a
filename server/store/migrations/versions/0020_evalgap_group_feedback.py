"""the question after a live group session: group_feedback (face in clear, comment sealed)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 23:55:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('group_feedback',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('cohort_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=True),
    sa.Column('office_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('face', sa.SmallInteger(), nullable=False),
    sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=True),
    sa.Column('comment', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['group_sessions.id'],
                            name=op.f('fk_group_feedback_session_id_group_sessions')),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_group_feedback_cohort_id_cohorts')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_group_feedback_case_id_cases')),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_group_feedback_office_id_offices')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_group_feedback_user_id_users')),
    sa.ForeignKeyConstraint(['key_id'], ['data_keys.id'], name=op.f('fk_group_feedback_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_feedback'))
    )
    op.create_index(op.f('ix_group_feedback_case_id'), 'group_feedback', ['case_id'], unique=False)
    op.create_index(op.f('ix_group_feedback_key_id'), 'group_feedback', ['key_id'], unique=False)
    op.create_index('ix_group_feedback_session_user', 'group_feedback', ['session_id', 'user_id'], unique=True)
    op.create_index('ix_group_feedback_given_at', 'group_feedback', ['given_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_group_feedback_given_at', table_name='group_feedback')
    op.drop_index('ix_group_feedback_session_user', table_name='group_feedback')
    op.drop_index(op.f('ix_group_feedback_key_id'), table_name='group_feedback')
    op.drop_index(op.f('ix_group_feedback_case_id'), table_name='group_feedback')
    op.drop_table('group_feedback')
