"""membership analytics (brands, RFM scores, churn, action, location, source) and rules

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 03:28:34.365011
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('crm_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('antecedent', sa.BigInteger(), nullable=False),
    sa.Column('consequent', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('support', sa.Float(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('lift', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['crm_run.id'], name=op.f('fk_crm_rule_run_id_crm_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_rule')),
    sa.UniqueConstraint('run_id', 'kind', 'antecedent', 'consequent', name='uq_crm_rule_pair')
    )
    with op.batch_alter_table('crm_rule', schema=None) as batch_op:
        batch_op.create_index('ix_crm_rule_lookup', ['run_id', 'kind', 'antecedent', 'confidence'], unique=False)

    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('top_brands', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('value_rank', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('rfm_r', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('rfm_f', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('rfm_m', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('churn_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('churn_risk', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('action', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('country', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('region', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('city', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('source', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_crm_membership_run_action', ['run_id', 'action', 'customer_id'], unique=False)
        batch_op.create_index('ix_crm_membership_run_country', ['run_id', 'country', 'customer_id'], unique=False)
        batch_op.create_index('ix_crm_membership_run_source', ['run_id', 'source', 'customer_id'], unique=False)



def downgrade():
    with op.batch_alter_table('crm_rule', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_rule_lookup')
    op.drop_table('crm_rule')
    with op.batch_alter_table('crm_membership', schema=None) as batch_op:
        batch_op.drop_index('ix_crm_membership_run_source')
        batch_op.drop_index('ix_crm_membership_run_country')
        batch_op.drop_index('ix_crm_membership_run_action')
        batch_op.drop_column('source')
        batch_op.drop_column('city')
        batch_op.drop_column('region')
        batch_op.drop_column('country')
        batch_op.drop_column('action')
        batch_op.drop_column('churn_risk')
        batch_op.drop_column('churn_score')
        batch_op.drop_column('rfm_m')
        batch_op.drop_column('rfm_f')
        batch_op.drop_column('rfm_r')
        batch_op.drop_column('value_rank')
        batch_op.drop_column('top_brands')

