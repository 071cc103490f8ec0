"""The shop: the demo shop generator and the mapping doctor."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from . import friendly_errors, parse_datetime, shopcrm_group


@shopcrm_group.command("demo-shop")
@click.option("--url", help="SQLAlchemy URL to write the demo shop into (default: the configured shop database).")
@click.option("--customers", default=3000, show_default=True, type=click.IntRange(10, 5_000_000))
@click.option("--views-per-customer", default=40.0, show_default=True, type=click.FloatRange(1, 1000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--now", "now_text", help="Generate as if today were this date (default: today).")
@click.option("--replace", is_flag=True, help="Drop and recreate demo tables that already exist.")
@click.option("--print-ddl", type=click.Choice(["mysql", "sqlite", "postgresql"]),
              help="Only print the generic schema's DDL for this database.")
@friendly_errors
def demo_shop_command(url, customers, views_per_customer, seed, now_text, replace, print_ddl):
    """Generate a demo shop (generic schema).

    Realistic and deterministic: the same seed gives the same shop."""
    from .. import demo
    from ..demo import schema as generic_schema

    if print_ddl:
        click.echo(generic_schema.ddl(print_ddl))
        return
    url = url or current_app.config["SHOPCRM_SHOP_DATABASE_URI"]
    counts = demo.build(url, customers=customers, seed=seed, now=parse_datetime(now_text),
                        views_per_customer=views_per_customer, replace=replace)
    click.echo(f"demo shop written to {sa.engine.make_url(url).render_as_string(hide_password=True)}: "
               + ", ".join(f"{n} {t}" for t, n in counts.items()))


@shopcrm_group.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for scripts).")
def doctor_command(as_json):
    """Check the shop mapping against the shop.

    Says per entity what is wrong, in words a shop admin can act on; exits with 1 when something
    shopcrm needs is missing."""
    import json

    from ..shop.doctor import report_for_app

    report = report_for_app()
    reach = _phone_reach() if report.ok else None
    if as_json:
        click.echo(json.dumps({**report.to_dict(), **({"sms": reach.to_dict()} if reach else {})}, indent=2,
                              default=str))
    else:
        click.echo(report.render())
        if reach is not None:
            click.echo(reach.render())
    try:  # the settings page shows the latest report; before `init` there is nowhere to keep it
        from ..health import store_report

        store_report(report)
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
    if not report.ok:
        click.get_current_context().exit(1)


def _phone_reach():
    """How many numbers an SMS could reach, when SMS is on (``None`` otherwise or when the shop
    cannot be read: the report above says why)."""
    from ..delivery.sms.reach import phone_reach
    from ..errors import ShopCRMError

    config = current_app.config
    if not config.get("SHOPCRM_TWILIO_ACCOUNT_SID") or not config.get("SHOPCRM_SMS_DEFAULT_REGION"):
        return None
    try:
        return phone_reach(config["SHOPCRM_SMS_DEFAULT_REGION"])
    except (ShopCRMError, ValueError) as exc:
        click.echo(f"SMS: cannot count usable numbers: {exc}", err=True)
        return None
