"""a customer type's members by expected value from an index (ix_crm_membership_run_type_value)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 23:55:00
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.create_index('ix_crm_membership_run_type_value',
                              ['run_id', 'value_type', 'expected_value', 'customer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_membership_run_type_value')
