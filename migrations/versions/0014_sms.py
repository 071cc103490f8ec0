"""sms: a channel on the outbox (phone, provider message id), SMS consent, a campaign's channel

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('crm_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=8), server_default='email', nullable=False))
        batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('provider_sid', sa.String(length=64), nullable=True))
        # the new key first: MariaDB keeps an index on campaign_id for the foreign key throughout
        batch_op.create_unique_constraint('uq_crm_message_once_channel',
                                          ['campaign_id', 'customer_id', 'dedupe_key', 'channel'])
        batch_op.drop_constraint('uq_crm_message_once', type_='unique')
    with op.batch_alter_table('crm_campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=8), server_default='email', nullable=False))
        batch_op.add_column(sa.Column('sms_body', sa.Text(), nullable=True))
    op.create_table('crm_sms_consent',
                    sa.Column('phone_hash', sa.String(length=64), nullable=False),
                    sa.Column('state', sa.String(length=16), nullable=False),
                    sa.Column('source', sa.String(length=32), nullable=False),
                    sa.Column('customer_id', sa.BigInteger(), nullable=True),
                    sa.Column('updated_at', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('phone_hash'))


def downgrade():
    op.drop_table('crm_sms_consent')
    with op.batch_alter_table('crm_campaign', schema=None) as batch_op:
        batch_op.drop_column('sms_body')
        batch_op.drop_column('channel')
    with op.batch_alter_table('crm_message', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_crm_message_once', ['campaign_id', 'customer_id', 'dedupe_key'])
        batch_op.drop_constraint('uq_crm_message_once_channel', type_='unique')
        batch_op.drop_column('provider_sid')
        batch_op.drop_column('phone')
        batch_op.drop_column('channel')
