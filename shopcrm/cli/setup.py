"""Setting up: the instance file, shopcrm's tables, admin-panel accounts."""
from __future__ import annotations

import click
from flask import current_app

from .. import accounts
from ..config import write_instance_settings
from ..extensions import db
from ..vocab import ROLES
from . import friendly_errors, shopcrm_group


@shopcrm_group.command("init", panel_settings=False)
def init_command():
    """Create the settings file with a new secret key.

    A fresh SECRET_KEY in the instance folder's shopcrm.cfg (an existing file is never
    overwritten). It works before anything is configured (a fresh install: ``wsgi.py`` then runs
    it through the stand-in app of ``shopcrm.unconfigured``); so does ``python -m shopcrm init``.
    """
    import getpass

    try:
        path, written = write_instance_settings(current_app.instance_path)
    except OSError as exc:
        raise click.ClickException(f"cannot write the settings file in {current_app.instance_path} as the user "
                                   f"{getpass.getuser()}: {exc.strerror or exc}") from None
    click.echo(f"wrote {path} with a new SECRET_KEY" if written else f"{path} exists; left as it is.")


@shopcrm_group.command("migrate", panel_settings=False)
def migrate_command():
    """Create or upgrade shopcrm's own tables.

    Only crm_* tables; the shop's tables are never touched."""
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)
    click.echo("shopcrm tables are up to date")


@shopcrm_group.command("create-user")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password", help="Omit to be asked (recommended: it stays out of the shell history).")
@friendly_errors
def create_user_command(email: str, role: str, password: str | None):
    """Create a panel user, or reset one's password.

    An existing user gets the role and password given (and is active again)."""
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user, created = accounts.create_or_reset(email, role, password)
    db.session.commit()
    click.echo(f"{'created' if created else 'updated'} user {user.email} with role {user.role}")
