"""insights: a run's rules of one kind, strongest first, from an index (ix_crm_rule_rank)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 09:00:00
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('crm_rule', schema=None) as batch_op:
        batch_op.create_index('ix_crm_rule_rank', ['run_id', 'kind', 'confidence', 'lift', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('crm_rule', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_rule_rank')
