"""mentoring conversations per assignment

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 15:40:00.000000
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mentor_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ends_on', sa.Date(), nullable=True))
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_constraint('uq_conversations_case_kind', type_='unique')
        batch_op.add_column(sa.Column('mentor_assignment_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_conversations_mentor_assignment_id_mentor_assignments'),
                                    'mentor_assignments', ['mentor_assignment_id'], ['id'])
    _backfill()
    not_mentoring = sa.text("kind <> 'mentoring'")
    op.create_index('ix_conversations_case_kind', 'conversations', ['case_id', 'kind'], unique=True,
                    sqlite_where=not_mentoring, postgresql_where=not_mentoring)
    op.create_index('ix_conversations_mentor_assignment_id', 'conversations', ['mentor_assignment_id'], unique=True)
    active = sa.text("ended_at IS NULL")
    op.create_index('ix_mentor_assignments_active', 'mentor_assignments', ['mentor_id', 'client_id'], unique=True,
                    sqlite_where=active, postgresql_where=active)


def _backfill() -> None:
    """Before this revision a client had one mentoring conversation that every mentor joined,
    and assigning a mentor twice stored a duplicate.

    - Duplicates: of the running assignments of one (mentor, client) pair the earliest stays
      (it is when the mentoring began); the later ones are ended at their own start, so they
      never count as running.
    - The one mentoring conversation goes to the newest running assignment among its current
      mentors: the mentor the client talks to now keeps the thread. Every other mentor leaves it.
      With no running assignment among its mentors it is closed (history kept for the client).
    - Every running assignment left without a conversation gets a new, empty one (client + mentor).
    """
    conn = op.get_bind()
    now = datetime.now(UTC)
    for mentor_id, client_id in conn.execute(sa.text(
            "SELECT mentor_id, client_id FROM mentor_assignments WHERE ended_at IS NULL "
            "GROUP BY mentor_id, client_id HAVING COUNT(*) > 1")).all():
        rows = conn.execute(sa.text(
            "SELECT id, created_at FROM mentor_assignments WHERE mentor_id = :m AND client_id = :c "
            "AND ended_at IS NULL ORDER BY created_at, id"), {"m": mentor_id, "c": client_id}).all()
        for assignment_id, created_at in rows[1:]:
            conn.execute(sa.text("UPDATE mentor_assignments SET ended_at = :t WHERE id = :i"),
                         {"t": created_at, "i": assignment_id})

    conversations = conn.execute(sa.text(
        "SELECT v.id, c.client_id FROM conversations v JOIN cases c ON c.id = v.case_id "
        "WHERE v.kind = 'mentoring'")).all()
    for conversation_id, client_id in conversations:
        chosen = conn.execute(sa.text(
            "SELECT a.id, a.mentor_id FROM mentor_assignments a JOIN conversation_members m "
            "ON m.user_id = a.mentor_id AND m.conversation_id = :v AND m.left_at IS NULL "
            "WHERE a.client_id = :c AND a.ended_at IS NULL ORDER BY a.created_at DESC, a.id DESC"),
            {"v": conversation_id, "c": client_id}).first()
        if chosen is None:
            conn.execute(sa.text("UPDATE conversations SET closed_at = :t WHERE id = :v"),
                         {"t": now, "v": conversation_id})
        else:
            conn.execute(sa.text("UPDATE conversations SET mentor_assignment_id = :a WHERE id = :v"),
                         {"a": chosen[0], "v": conversation_id})
        conn.execute(sa.text(
            "UPDATE conversation_members SET left_at = :t WHERE conversation_id = :v AND left_at IS NULL "
            "AND user_id <> :c AND user_id <> :keep"),
            {"t": now, "v": conversation_id, "c": client_id, "keep": chosen[1] if chosen else client_id})

    for assignment_id, mentor_id, client_id, case_id in conn.execute(sa.text(
            "SELECT a.id, a.mentor_id, a.client_id, c.id FROM mentor_assignments a "
            "JOIN cases c ON c.client_id = a.client_id WHERE a.ended_at IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM conversations v WHERE v.mentor_assignment_id = a.id)")).all():
        conversation_id = uuid.uuid4().hex
        conn.execute(sa.text(
            "INSERT INTO conversations (id, kind, case_id, last_seq, created_at, mentor_assignment_id) "
            "VALUES (:v, 'mentoring', :c, 0, :t, :a)"), {"v": conversation_id, "c": case_id, "t": now, "a": assignment_id})
        for user_id in (client_id, mentor_id):
            conn.execute(sa.text(
                "INSERT INTO conversation_members (conversation_id, user_id, joined_at, left_at, delivered_seq, "
                "read_seq) VALUES (:v, :u, :t, NULL, 0, 0)"), {"v": conversation_id, "u": user_id, "t": now})


def downgrade() -> None:
    # One mentoring conversation per case again: the per-assignment ones cannot be merged back,
    # so a downgrade with more than one mentoring conversation on a case fails on the unique index.
    op.drop_index('ix_mentor_assignments_active', table_name='mentor_assignments')
    op.drop_index('ix_conversations_mentor_assignment_id', table_name='conversations')
    op.drop_index('ix_conversations_case_kind', table_name='conversations')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_conversations_mentor_assignment_id_mentor_assignments'),
                                 type_='foreignkey')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('mentor_assignment_id')
        batch_op.create_unique_constraint('uq_conversations_case_kind', ['case_id', 'kind'])
    with op.batch_alter_table('mentor_assignments', schema=None) as batch_op:
        batch_op.drop_column('ends_on')
