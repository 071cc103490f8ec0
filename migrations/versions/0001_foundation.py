"""foundation: users, runs, segments, memberships, campaigns, outbox, suppressions, locks

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 03:19:01.968135
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('crm_campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('target', sa.JSON(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('coupon', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_campaign'))
    )
    op.create_table('crm_lock',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('acquired_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_crm_lock'))
    )
    op.create_table('crm_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('as_of', sa.DateTime(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('timings', sa.JSON(), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('quality', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_run'))
    )
    with op.batch_alter_table('crm_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_run_status'), ['status'], unique=False)

    op.create_table('crm_suppression',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_suppression')),
    sa.UniqueConstraint('email_hash', name=op.f('uq_crm_suppression_email_hash'))
    )
    op.create_table('crm_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_user')),
    sa.UniqueConstraint('email', name=op.f('uq_crm_user_email'))
    )
    op.create_table('crm_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['crm_campaign.id'], name=op.f('fk_crm_message_campaign_id_crm_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_message')),
    sa.UniqueConstraint('campaign_id', 'customer_id', 'dedupe_key', name='uq_crm_message_once')
    )
    with op.batch_alter_table('crm_message', schema=None) as batch_op:
        batch_op.create_index('ix_crm_message_customer', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_crm_message_due', ['state', 'next_attempt_at'], unique=False)

    op.create_table('crm_segment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('top', sa.JSON(), nullable=True),
    sa.Column('centroid', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['crm_run.id'], name=op.f('fk_crm_segment_run_id_crm_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_segment')),
    sa.UniqueConstraint('run_id', 'label', name=op.f('uq_crm_segment_run_id_label'))
    )
    with op.batch_alter_table('crm_segment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_segment_run_id'), ['run_id'], unique=False)

    op.create_table('crm_membership',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('value_type', sa.String(length=16), nullable=False),
    sa.Column('recency_days', sa.Float(), nullable=True),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('monetary', sa.Float(), nullable=False),
    sa.Column('top_categories', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['crm_run.id'], name=op.f('fk_crm_membership_run_id_crm_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_id'], ['crm_segment.id'], name=op.f('fk_crm_membership_segment_id_crm_segment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'customer_id', name=op.f('pk_crm_membership'))
    )
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.create_index('ix_crm_membership_customer', ['customer_id', 'run_id'], unique=False)
        batch_op.create_index('ix_crm_membership_run_segment', ['run_id', 'segment_id', 'customer_id'], unique=False)
        batch_op.create_index('ix_crm_membership_run_value', ['run_id', 'value_type', 'customer_id'], unique=False)



def downgrade():
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_membership_run_value')
        batch_op.drop_index('ix_crm_membership_run_segment')
        batch_op.drop_index('ix_crm_membership_customer')

    op.drop_table('crm_membership')
    with op.batch_alter_table('crm_segment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_segment_run_id'))

    op.drop_table('crm_segment')
    with op.batch_alter_table('crm_message', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_message_due')
        batch_op.drop_index('ix_crm_message_customer')

    op.drop_table('crm_message')
    op.drop_table('crm_user')
    op.drop_table('crm_suppression')
    with op.batch_alter_table('crm_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_run_status'))

    op.drop_table('crm_run')
    op.drop_table('crm_lock')
    op.drop_table('crm_campaign')
