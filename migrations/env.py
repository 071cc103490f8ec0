"""Alembic environment for shopcrm: it manages only tables whose names start with ``crm_``.

shopcrm's tables may share a schema with the shop's. ``include_name`` hides every other
table from autogenerate, so a migration can never propose to drop or alter a shop table, and
the version is kept in ``crm_alembic_version`` so it never collides with a shop's own Alembic.
"""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

VERSION_TABLE = "crm_alembic_version"
TABLE_PREFIX = "crm_"

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def include_name(name, type_, parent_names):
    if type_ == "table":
        return bool(name) and name.startswith(TABLE_PREFIX)
    return True


def _db():
    return current_app.extensions["migrate"].db


def _options():
    return dict(target_metadata=_db().metadata, version_table=VERSION_TABLE, include_name=include_name,
                render_as_batch=True, compare_type=True)


def run_migrations_offline():
    url = _db().engine.url.render_as_string(hide_password=False)
    context.configure(url=url, literal_binds=True, **_options())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def skip_empty(context_, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    with _db().engine.connect() as connection:
        context.configure(connection=connection, process_revision_directives=skip_empty, **_options())
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
