"""memberships partitioned by run on MariaDB/MySQL, so pruning an old run drops a partition

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 01:40:00

InnoDB allows no foreign keys on a partitioned table: the memberships' two go (with the index
that only the segment key needed); the pruning and the shopper's erasure delete memberships
explicitly. Other databases (SQLite) are left as they are. See shopcrm/segmentation/partitions.py.
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

TABLE = 'crm_membership'
SEGMENT_KEY = 'fk_crm_membership_segment_id_crm_segment'
SEGMENT_KEY_INDEX = SEGMENT_KEY  # MariaDB named the key's index after the key


def _mysql() -> bool:
    return op.get_bind().dialect.name in ('mysql', 'mariadb')


def upgrade():
    if not _mysql():
        return
    inspector = sa.inspect(op.get_bind())
    for key in inspector.get_foreign_keys(TABLE):
        op.drop_constraint(key['name'], TABLE, type_='foreignkey')
    if SEGMENT_KEY_INDEX in {i['name'] for i in inspector.get_indexes(TABLE)}:
        op.drop_index(SEGMENT_KEY_INDEX, table_name=TABLE)
    # The rows already there get a partition of their own, so the next run's split of the empty
    # p_future moves no rows; it goes once all of its runs are old.
    newest = op.get_bind().execute(sa.text(f"SELECT MAX(run_id) FROM {TABLE}")).scalar()
    first = f"PARTITION r{newest} VALUES LESS THAN ({newest + 1}), " if newest is not None else ""
    op.execute(f"ALTER TABLE {TABLE} PARTITION BY RANGE (run_id) ({first}PARTITION p_future VALUES LESS THAN MAXVALUE)")


def downgrade():
    if not _mysql():
        return
    op.execute(f"ALTER TABLE {TABLE} REMOVE PARTITIONING")
    op.create_foreign_key('fk_crm_membership_run_id_crm_run', TABLE, 'crm_run', ['run_id'], ['id'],
                          ondelete='CASCADE')
    op.create_foreign_key(SEGMENT_KEY, TABLE, 'crm_segment', ['segment_id'], ['id'], ondelete='CASCADE')
