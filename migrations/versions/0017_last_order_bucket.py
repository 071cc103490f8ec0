"""customers of one country and one last-order bucket, counted from one index (crm_membership.last_order)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 02:00:00

Each membership stores its recency's bucket (0 never ordered, 1 within 30 days, 2 within 90,
3 within 365, 4 older: vocab.LAST_ORDER_CODES), and ix_crm_membership_run_country becomes
(run_id, country, last_order, customer_id): the customer list's count for "one country, last
order in a bucket" reads one range of it instead of every row of the run, and a run writes that
index in customer order within each (country, bucket) rather than at random places.
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

NAME = 'ix_crm_membership_run_country'
BUCKET = ("CASE WHEN recency_days IS NULL THEN 0 WHEN recency_days <= 30 THEN 1 WHEN recency_days <= 90 THEN 2 "
          "WHEN recency_days <= 365 THEN 3 ELSE 4 END")


def upgrade():
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_order', sa.SmallInteger(), nullable=True))
        batch_op.drop_index(NAME)
    op.execute(f"UPDATE crm_membership SET last_order = {BUCKET}")
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.create_index(NAME, ['run_id', 'country', 'last_order', 'customer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.drop_index(NAME)
        batch_op.drop_column('last_order')
        batch_op.create_index(NAME, ['run_id', 'country', 'customer_id'], unique=False)
