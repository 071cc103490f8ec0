"""customers of one country whose last order falls in a range, counted from one index

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 02:00:00

ix_crm_membership_run_country gains recency_days before customer_id: the customer list's count
for "one country, last order in a range" reads that range of the index instead of every row of
the run; the index count stays the same, so a run stores no more.
"""
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

NAME = 'ix_crm_membership_run_country'


def _replace(columns):
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.drop_index(NAME)
        batch_op.create_index(NAME, columns, unique=False)


def upgrade():
    _replace(['run_id', 'country', 'recency_days', 'customer_id'])


def downgrade():
    _replace(['run_id', 'country', 'customer_id'])
