"""evaluation: check-in feedback, the admission time of a check-in, the feedback_comments category

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 12:10:00.000000

Issue 16, section 3. ``checkins.admitted_at`` is NULL for check-ins admitted before this
revision (their admission time is only in the encrypted evidence): the waiting-time figure
starts with this revision. Every stored retention document gains ``feedback_comments``.
"""
from __future__ import annotations

import json
import tomllib
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

FEEDBACK_COMMENTS_DAYS = 30
MARK = "\n\n# Added by migration 0016 (evaluation).\n"


def _retention_with_feedback_comments(text: str) -> str:
    if "feedback_comments" in tomllib.loads(text)["retention"]["categories"]:
        return text
    return (text.rstrip("\n") + MARK +
            f"[retention.categories.feedback_comments]\nperiod_days = {FEEDBACK_COMMENTS_DAYS}\naction = \"shred\"\n")


def _documents(value: Any) -> dict[str, str]:
    return dict(json.loads(value) if isinstance(value, str) else value)


def _rewrite(change: Any) -> None:
    versions = sa.table('policy_versions', sa.column('version', sa.Integer), sa.column('documents', sa.JSON))
    conn = op.get_bind()
    for version, documents in conn.execute(sa.select(versions.c.version, versions.c.documents)).all():
        docs = _documents(documents)
        if "retention" in docs:
            docs["retention"] = change(docs["retention"])
        conn.execute(versions.update().where(versions.c.version == version).values(documents=docs))


def upgrade() -> None:
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admitted_at', sa.DateTime(timezone=True), nullable=True))
    # Covering on PostgreSQL: the appointments figure reads the index alone unless a filter needs
    # the case (SQLite ignores the include).
    op.create_index('ix_appointments_starts_at', 'appointments', ['starts_at'], unique=False,
                    postgresql_include=['client_id', 'kind', 'status', 'outcome'])
    op.create_table('feedback',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('checkin_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('office_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('face', sa.SmallInteger(), nullable=False),
    sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=True),
    sa.Column('comment', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_feedback_case_id_cases')),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_feedback_office_id_offices')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_feedback_user_id_users')),
    sa.ForeignKeyConstraint(['key_id'], ['data_keys.id'], name=op.f('fk_feedback_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback'))
    )
    op.create_index(op.f('ix_feedback_case_id'), 'feedback', ['case_id'], unique=False)
    op.create_index(op.f('ix_feedback_key_id'), 'feedback', ['key_id'], unique=False)
    op.create_index('ix_feedback_checkin_user', 'feedback', ['checkin_id', 'user_id'], unique=True)
    op.create_index('ix_feedback_given_at', 'feedback', ['given_at'], unique=False)
    _rewrite(_retention_with_feedback_comments)


def downgrade() -> None:
    def without(text: str) -> str:
        cut = text.find(MARK)
        return text[:cut] + "\n" if cut >= 0 else text
    _rewrite(without)
    op.drop_index('ix_feedback_given_at', table_name='feedback')
    op.drop_index('ix_feedback_checkin_user', table_name='feedback')
    op.drop_index(op.f('ix_feedback_key_id'), table_name='feedback')
    op.drop_index(op.f('ix_feedback_case_id'), table_name='feedback')
    op.drop_table('feedback')
    op.drop_index('ix_appointments_starts_at', table_name='appointments')
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_column('admitted_at')
