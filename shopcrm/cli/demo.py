"""Everything at once for the demo: shop, tables, admin, a run, a campaign written to .eml files."""
from __future__ import annotations

import secrets

import click
from flask import current_app

from ..extensions import db
from . import friendly_errors, shopcrm_group


@shopcrm_group.command("demo")
@click.option("--customers", default=3000, show_default=True, type=click.IntRange(10, 1_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--admin-email", default="admin@example.com", show_default=True)
@friendly_errors
def demo_command(customers, seed, admin_email):
    """Build the demo shop, migrate, create an admin, segment, and 'send' a campaign to .eml files."""
    from flask_migrate import upgrade

    from .. import accounts, demo
    from ..campaigns.service import create_campaign, enqueue
    from ..delivery.sender import send_due
    from ..segmentation.run import run_and_index
    from .segmentation import echo_index

    upgrade(directory=current_app.extensions["migrate"].directory)
    counts = demo.build(current_app.config["SHOPCRM_SHOP_DATABASE_URI"], customers=customers, seed=seed, replace=True)
    click.echo("demo shop: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    password = secrets.token_urlsafe(12)
    accounts.create_or_reset(admin_email, "admin", password)
    db.session.commit()
    run, index = run_and_index(requested_by="demo")
    click.echo(f"segmentation run #{run.id}: {len(run.segments)} segments in {run.timings['total']:.1f} s")
    echo_index(index)
    biggest = max(run.segments, key=lambda s: s.size)
    campaign = create_campaign(f"Demo offer for {biggest.name}", {"segment_id": biggest.id},
                               coupon="DEMO10", created_by="demo")
    db.session.commit()
    report = enqueue(campaign)
    sent = send_due()
    click.echo(f"campaign #{campaign.id} for '{biggest.name}': queued {report.queued}, "
               f"suppressed {report.suppressed}; wrote {sent.sent} .eml files to "
               f"{current_app.config['SHOPCRM_OUTBOX_DIR']}")
    click.echo("")
    click.echo(f"admin panel: {current_app.config['SHOPCRM_PUBLIC_URL']}admin/")
    click.echo(f"log in as   {admin_email}  /  {password}")
