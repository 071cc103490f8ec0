"""Migrations create exactly the models' tables, manage only crm_ tables, and leave shop tables alone."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shopcrm import create_app, demo
from shopcrm.extensions import db
from shopcrm.segmentation import partitions
from tests.support.apps import DEMO_NOW, base_config, dispose, migrate


def include_name(name, type_, parent_names):
    if type_ == "table":
        return bool(name) and name.startswith("crm_")
    return True


def schema_diff(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_name, "compare_type": True,
                                                         "version_table": "crm_alembic_version"})
        return compare_metadata(context, db.metadata)


def check_database(app, shop_tables_before, allowed=lambda change: False):
    diff = [change for change in schema_diff(app) if not allowed(change)]
    assert diff == [], diff
    with app.app_context():
        names = set(sa.inspect(db.engine).get_table_names())
    assert "crm_alembic_version" in names and "alembic_version" not in names
    assert {n for n in names if not n.startswith("crm_")} == shop_tables_before


def test_migrations_match_the_models_on_sqlite(tmp_path):
    # shopcrm's tables share the database with a shop here: the shop's tables must survive untouched.
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = sa.create_engine(url)
    demo.write(engine, demo.generate(seed=3, customers=50, now=DEMO_NOW))
    engine.dispose()
    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=url, SHOPCRM_SHOP_DATABASE_URI=url))
    migrate(app)
    check_database(app, {t.name for t in demo.schema.TABLES})
    with app.app_context():
        assert db.session.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar() == 50
    migrate(app)  # running it again is a no-op
    dispose(app)


def test_migrations_match_the_models_on_mariadb(tmp_path, mariadb_database):
    url = mariadb_database()
    writer = sa.create_engine(url, connect_args={"local_infile": True})
    demo.write(writer, demo.generate(seed=3, customers=50, now=DEMO_NOW))
    writer.dispose()
    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=url, SHOPCRM_SHOP_DATABASE_URI=url))
    migrate(app)
    try:
        # The one difference: a partitioned table has no foreign keys (migration 0016).
        check_database(app, {t.name for t in demo.schema.TABLES}, allowed=lambda change: change[0] == "add_fk"
                       and change[1].table.name == partitions.TABLE)
        with app.app_context(), db.engine.connect() as conn:
            assert partitions.bounds(conn) == []
            assert sa.inspect(conn).get_foreign_keys(partitions.TABLE) == []
    finally:
        dispose(app)


def test_migrate_command(tmp_path):
    app = create_app(base_config(tmp_path))
    result = app.test_cli_runner().invoke(args=["shopcrm", "migrate"])
    assert result.exit_code == 0, result.output
    assert schema_diff(app) == []
    dispose(app)
