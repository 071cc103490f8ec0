"""customer search: a word index of customers' names and addresses (crm_search_word)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'crm_search_word',
        sa.Column('word', sa.String(length=64).with_variant(sa.String(length=64, collation='utf8mb4_bin'), 'mysql', 'mariadb'),
                  nullable=False),
        sa.Column('customer_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('segment_id', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('word', 'customer_id'),
    )
    op.create_index('ix_crm_search_word_customer', 'crm_search_word', ['customer_id', 'word'], unique=False)
    op.create_index('ix_crm_search_word_segment', 'crm_search_word', ['segment_id', 'word', 'customer_id'], unique=False)


def downgrade():
    op.drop_index('ix_crm_search_word_segment', table_name='crm_search_word')
    op.drop_index('ix_crm_search_word_customer', table_name='crm_search_word')
    op.drop_table('crm_search_word')
