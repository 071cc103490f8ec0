"""admin: one customer's beacon views by time

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 04:40:00
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('crm_view', schema=None) as batch_op:
        batch_op.create_index('ix_crm_view_customer', ['customer_id', 'viewed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('crm_view', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_view_customer')
