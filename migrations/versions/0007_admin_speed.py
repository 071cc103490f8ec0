"""admin speed: campaign figures from one index; crm_state for shared reports (the doctor's)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 07:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('crm_message', schema=None) as batch_op:
        batch_op.create_index('ix_crm_message_campaign_stats',
                              ['campaign_id', 'state', 'reason', 'clicked_at', 'click_count', 'opened_at'],
                              unique=False)
    op.create_table(
        'crm_state',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade():
    op.drop_table('crm_state')
    with op.batch_alter_table('crm_message', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_message_campaign_stats')
