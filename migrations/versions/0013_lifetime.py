"""lifetime: P(alive), expected orders and expected value per membership

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('p_alive', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('expected_orders', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('expected_value', sa.Float(), nullable=True))


def downgrade():
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.drop_column('expected_value')
        batch_op.drop_column('expected_orders')
        batch_op.drop_column('p_alive')
