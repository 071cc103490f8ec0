"""view beacon: crm_view, the product views the shop's pages report to shopcrm

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 03:42:41.531434
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('crm_view',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('product_id', sa.BigInteger(), nullable=False),
    sa.Column('viewed_at', sa.DateTime(), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_view')),
    sa.UniqueConstraint('nonce', name='uq_crm_view_nonce')
    )
    with op.batch_alter_table('crm_view', schema=None) as batch_op:
        batch_op.create_index('ix_crm_view_time', ['viewed_at', 'customer_id', 'product_id'], unique=False)


def downgrade():
    with op.batch_alter_table('crm_view', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_view_time')
    op.drop_table('crm_view')
