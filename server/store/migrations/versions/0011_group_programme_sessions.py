"""group programme sessions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:56:08.338479
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rooms',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('office_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_rooms_created_by_users')),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_rooms_office_id_offices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rooms'))
    )
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rooms_office_id'), ['office_id'], unique=False)

    op.create_table('agreement_acceptances',
    sa.Column('cohort_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_agreement_acceptances_cohort_id_cohorts')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agreement_acceptances_user_id_users')),
    sa.PrimaryKeyConstraint('cohort_id', 'user_id', 'version', name=op.f('pk_agreement_acceptances'))
    )
    op.create_table('cohort_settings',
    sa.Column('cohort_id', sa.String(length=32), nullable=False),
    sa.Column('agreement_text', sa.Text(), nullable=True),
    sa.Column('agreement_version', sa.Integer(), nullable=False),
    sa.Column('auto_admit', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_cohort_settings_cohort_id_cohorts')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_cohort_settings_updated_by_users')),
    sa.PrimaryKeyConstraint('cohort_id', name=op.f('pk_cohort_settings'))
    )
    op.create_table('group_sessions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('cohort_id', sa.String(length=32), nullable=False),
    sa.Column('office_id', sa.String(length=32), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('series_id', sa.String(length=32), nullable=True),
    sa.Column('series_index', sa.Integer(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('room_id', sa.String(length=32), nullable=True),
    sa.Column('home_node', sa.String(length=120), nullable=True),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_by', sa.String(length=32), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('register_confirmed_by', sa.String(length=32), nullable=True),
    sa.Column('register_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cancelled_by'], ['users.id'], name=op.f('fk_group_sessions_cancelled_by_users')),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_group_sessions_cohort_id_cohorts')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_group_sessions_created_by_users')),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_group_sessions_office_id_offices')),
    sa.ForeignKeyConstraint(['register_confirmed_by'], ['users.id'],
        name=op.f('fk_group_sessions_register_confirmed_by_users')),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_group_sessions_room_id_rooms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_sessions'))
    )
    with op.batch_alter_table('group_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_sessions_cohort_id'), ['cohort_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_sessions_series_id'), ['series_id'], unique=False)
        batch_op.create_index('ix_group_sessions_starts_at', ['starts_at'], unique=False)

    op.create_table('room_devices',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('room_id', sa.String(length=32), nullable=True),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('secret_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_by', sa.String(length=32), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['registered_by'], ['users.id'], name=op.f('fk_room_devices_registered_by_users')),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_room_devices_room_id_rooms')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_room_devices_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_room_devices')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_room_devices_code_hash')),
    sa.UniqueConstraint('user_id', name=op.f('uq_room_devices_user_id'))
    )
    with op.batch_alter_table('room_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_room_devices_room_id'), ['room_id'], unique=False)

    op.create_table('group_attendance',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('case_id', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.Column('confirmed_by', sa.String(length=32), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['confirmed_by'], ['users.id'], name=op.f('fk_group_attendance_confirmed_by_users')),
    sa.ForeignKeyConstraint(['key_id'], ['data_keys.id'], name=op.f('fk_group_attendance_key_id_data_keys')),
    sa.ForeignKeyConstraint(['session_id'], ['group_sessions.id'],
        name=op.f('fk_group_attendance_session_id_group_sessions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_group_attendance_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_attendance')),
    sa.UniqueConstraint('session_id', 'user_id', name='uq_group_attendance_session_user')
    )
    with op.batch_alter_table('group_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_attendance_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_attendance_key_id'), ['key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_attendance_session_id'), ['session_id'], unique=False)

    op.create_table('group_attendance_events',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['data_keys.id'], name=op.f('fk_group_attendance_events_key_id_data_keys')),
    sa.ForeignKeyConstraint(['session_id'], ['group_sessions.id'],
        name=op.f('fk_group_attendance_events_session_id_group_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_attendance_events'))
    )
    with op.batch_alter_table('group_attendance_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_attendance_events_key_id'), ['key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_attendance_events_session_id'), ['session_id'], unique=False)

    op.create_table('group_session_staff',
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('added_by', sa.String(length=32), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], name=op.f('fk_group_session_staff_added_by_users')),
    sa.ForeignKeyConstraint(['session_id'], ['group_sessions.id'],
        name=op.f('fk_group_session_staff_session_id_group_sessions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_group_session_staff_user_id_users')),
    sa.PrimaryKeyConstraint('session_id', 'user_id', name=op.f('pk_group_session_staff'))
    )


def downgrade() -> None:
    op.drop_table('group_session_staff')
    with op.batch_alter_table('group_attendance_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_attendance_events_session_id'))
        batch_op.drop_index(batch_op.f('ix_group_attendance_events_key_id'))

    op.drop_table('group_attendance_events')
    with op.batch_alter_table('group_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_attendance_session_id'))
        batch_op.drop_index(batch_op.f('ix_group_attendance_key_id'))
        batch_op.drop_index(batch_op.f('ix_group_attendance_case_id'))

    op.drop_table('group_attendance')
    with op.batch_alter_table('room_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_room_devices_room_id'))

    op.drop_table('room_devices')
    with op.batch_alter_table('group_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_group_sessions_starts_at')
        batch_op.drop_index(batch_op.f('ix_group_sessions_series_id'))
        batch_op.drop_index(batch_op.f('ix_group_sessions_cohort_id'))

    op.drop_table('group_sessions')
    op.drop_table('cohort_settings')
    op.drop_table('agreement_acceptances')
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rooms_office_id'))

    op.drop_table('rooms')
