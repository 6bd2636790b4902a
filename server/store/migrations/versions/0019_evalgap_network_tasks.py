"""network tasks in clear (owner, due date, state; no text) so evaluation decrypts nothing

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 23:40:00.000000

No backfill here: the tasks are inside each network's sealed document, and a migration holds no
key to open it. ``NetworkService.index_tasks`` fills the table when the server starts, for the
networks in stage 4 that have no rows yet (``server/app.py``), and every later write keeps it.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('network_tasks',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('network_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('process', sa.Integer(), nullable=False),
    sa.Column('plan_version', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.String(length=32), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_network_tasks_network_id_networks'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_network_tasks_case_id_cases')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_network_tasks_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_tasks')),
    sa.UniqueConstraint('network_id', 'task_id', name='uq_network_tasks_task')
    )
    op.create_index(op.f('ix_network_tasks_case_id'), 'network_tasks', ['case_id'], unique=False)
    op.create_index('ix_network_tasks_due_on', 'network_tasks', ['due_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_network_tasks_due_on', table_name='network_tasks')
    op.drop_index(op.f('ix_network_tasks_case_id'), table_name='network_tasks')
    op.drop_table('network_tasks')
