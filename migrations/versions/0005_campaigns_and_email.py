"""campaigns and email: triggers, clicks, preferences, soft bounces; outbox leases and address keys

Existing outbox rows get the hash of their address (and, while deliverable, their address key),
so messages queued before the upgrade are still checked and sent correctly.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 03:49:29.700903
"""
import hashlib

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('crm_preference',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('email_hash', name=op.f('pk_crm_preference'))
    )
    op.create_table('crm_soft_bounce',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.Column('last_reply', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('email_hash', name=op.f('pk_crm_soft_bounce'))
    )
    op.create_table('crm_trigger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('enabled_at', sa.DateTime(), nullable=True),
    sa.Column('state', sa.JSON(), nullable=True),
    sa.Column('last_evaluated_at', sa.DateTime(), nullable=True),
    sa.Column('last_report', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['crm_campaign.id'], name=op.f('fk_crm_trigger_campaign_id_crm_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_trigger')),
    sa.UniqueConstraint('kind', name=op.f('uq_crm_trigger_kind'))
    )
    op.create_table('crm_click',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('clicked_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['crm_message.id'], name=op.f('fk_crm_click_message_id_crm_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_click'))
    )
    with op.batch_alter_table('crm_click', schema=None) as batch_op:
        batch_op.create_index('ix_crm_click_campaign', ['campaign_id', 'customer_id', 'clicked_at'], unique=False)
        batch_op.create_index('ix_crm_click_customer', ['customer_id', 'clicked_at'], unique=False)
        batch_op.create_index('ix_crm_click_message', ['message_id'], unique=False)

    with op.batch_alter_table('crm_campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=32), server_default='campaign', nullable=False))
        batch_op.add_column(sa.Column('scheduled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('crm_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_hash', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('send_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('unsubscribe_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('stop_if_ordered_since', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('clicked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('click_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('opened_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_crm_message_address', ['email_hash', 'sent_at'], unique=False)
        batch_op.create_unique_constraint('uq_crm_message_address', ['campaign_id', 'dedupe_key', 'send_key'])

    _hash_existing_addresses()



def downgrade():
    with op.batch_alter_table('crm_message', schema=None) as batch_op:
        batch_op.drop_constraint('uq_crm_message_address', type_='unique')
        batch_op.drop_index('ix_crm_message_address')
        batch_op.drop_column('opened_at')
        batch_op.drop_column('click_count')
        batch_op.drop_column('clicked_at')
        batch_op.drop_column('stop_if_ordered_since')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('unsubscribe_url')
        batch_op.drop_column('send_key')
        batch_op.drop_column('email_hash')

    with op.batch_alter_table('crm_campaign', schema=None) as batch_op:
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('scheduled_at')
        batch_op.drop_column('kind')

    with op.batch_alter_table('crm_click', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_click_message')
        batch_op.drop_index('ix_crm_click_customer')
        batch_op.drop_index('ix_crm_click_campaign')

    op.drop_table('crm_click')
    op.drop_table('crm_trigger')
    op.drop_table('crm_soft_bounce')
    op.drop_table('crm_preference')


def _hash_existing_addresses():
    """Fill ``email_hash`` (and ``send_key`` for deliverable rows, first row per address and
    occasion only) for rows written before this revision, a thousand at a time."""
    bind = op.get_bind()
    message = sa.table("crm_message", sa.column("id"), sa.column("campaign_id"), sa.column("dedupe_key"),
                       sa.column("email"), sa.column("state"), sa.column("email_hash"), sa.column("send_key"))
    seen = set()
    last = 0
    while True:
        rows = bind.execute(sa.select(message.c.id, message.c.campaign_id, message.c.dedupe_key, message.c.email,
                                      message.c.state)
                            .where(message.c.id > last).order_by(message.c.id).limit(1000)).all()
        if not rows:
            return
        last = rows[-1].id
        for row in rows:
            email_hash = hashlib.sha256((row.email or "").strip().lower().encode("utf-8")).hexdigest()
            key = (row.campaign_id, row.dedupe_key, email_hash)
            live = row.state in ("queued", "sending", "sent") and key not in seen
            seen.add(key)
            bind.execute(message.update().where(message.c.id == row.id)
                         .values(email_hash=email_hash, send_key=email_hash if live else None))
