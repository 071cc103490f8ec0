"""panel: settings an admin changes in the panel (crm_setting); the customer list's sort orders from indexes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 20:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


MEMBERSHIP_INDEXES = {
    'ix_crm_membership_run_spend': ['run_id', 'monetary', 'customer_id'],
    'ix_crm_membership_run_type_spend': ['run_id', 'value_type', 'monetary', 'customer_id'],
    'ix_crm_membership_run_action_spend': ['run_id', 'action', 'monetary', 'customer_id'],
    'ix_crm_membership_run_risk_spend': ['run_id', 'churn_risk', 'monetary', 'customer_id'],
    'ix_crm_membership_run_recency': ['run_id', 'recency_days', 'customer_id'],
    'ix_crm_membership_run_risk_recency': ['run_id', 'churn_risk', 'recency_days', 'customer_id'],
}


def upgrade():
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        for name, columns in MEMBERSHIP_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    op.create_table(
        'crm_setting',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by', sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade():
    op.drop_table('crm_setting')
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        for name in MEMBERSHIP_INDEXES:
            batch_op.drop_index(name)
