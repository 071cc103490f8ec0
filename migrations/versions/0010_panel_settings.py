"""panel settings: what an admin changes in the panel (crm_setting), laid over the instance file

Revision ID: 0010_panel
Revises: 0009
Create Date: 2026-12-05 20:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_panel'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
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
