"""run insights: named JSON documents a run produces (charts, groups, model)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 04:13:36.559140
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('crm_insight',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['crm_run.id'], name=op.f('fk_crm_insight_run_id_crm_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_insight')),
    sa.UniqueConstraint('run_id', 'name', name='uq_crm_insight_name')
    )


def downgrade():
    op.drop_table('crm_insight')
