"""login security: crm_user.session_version (revocable sessions), crm_throttle (counters shared by
every process: login attempts, beacon requests), crm_login_event (the admin's security list);
the per-account lock (failed_logins, locked_until) goes, throttling replaces it

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('crm_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')
    op.create_table('crm_throttle',
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_crm_throttle'))
    )
    with op.batch_alter_table('crm_throttle', schema=None) as batch_op:
        batch_op.create_index('ix_crm_throttle_updated', ['updated_at'], unique=False)
    op.create_table('crm_login_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_login_event'))
    )
    with op.batch_alter_table('crm_login_event', schema=None) as batch_op:
        batch_op.create_index('ix_crm_login_event_at', ['at'], unique=False)


def downgrade():
    with op.batch_alter_table('crm_login_event', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_login_event_at')
    op.drop_table('crm_login_event')
    with op.batch_alter_table('crm_throttle', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_throttle_updated')
    op.drop_table('crm_throttle')
    with op.batch_alter_table('crm_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(), nullable=True))
        batch_op.drop_column('session_version')
