"""The demo: build it all at once (shop, tables, admin, a run, a campaign written to .eml files),
and serve it with no dead ends (the shop's pages, the panel, and the jobs cron would run)."""
from __future__ import annotations

import secrets
import threading

import click
from flask import current_app

from ..extensions import db
from . import friendly_errors, in_words, shopcrm_group


@shopcrm_group.command("demo", panel_settings=False)
@click.option("--customers", default=3000, show_default=True, type=click.IntRange(10, 1_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--admin-email", default="admin@example.com", show_default=True)
@friendly_errors
def demo_command(customers, seed, admin_email):
    """Build a demo shop, analyse it, mail a campaign.

    Builds the demo shop, creates shopcrm's tables and an admin, runs a segmentation and writes
    a campaign's e-mails to .eml files; `demo-serve` then serves it all."""
    from flask_migrate import upgrade

    from .. import accounts, demo, panel_settings
    from ..campaigns.service import create_campaign, enqueue
    from ..delivery.sender import send_due
    from ..segmentation.run import run_and_index
    from .segmentation import echo_index

    upgrade(directory=current_app.extensions["migrate"].directory)
    panel_settings.apply()
    counts = demo.build(current_app.config["SHOPCRM_SHOP_DATABASE_URI"], customers=customers, seed=seed, replace=True)
    click.echo("demo shop: " + ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in counts.items()))
    password = secrets.token_urlsafe(12)
    accounts.create_or_reset(admin_email, "admin", password)
    db.session.commit()
    run, index = run_and_index(requested_by="demo")
    click.echo(f"analysis (segmentation run #{run.id}): {len(run.segments)} interest segments "
               f"in {run.timings['total']:.1f} s")
    echo_index(index)
    biggest = max(run.segments, key=lambda s: s.size)
    campaign = create_campaign(f"Demo offer for {biggest.name}", {"segment_id": biggest.id},
                               coupon="DEMO10", created_by="demo")
    db.session.commit()
    report = enqueue(campaign)
    sent = send_due()
    click.echo(f"campaign #{campaign.id} for '{biggest.name}': {report.queued:,} e-mails queued, not sent to "
               f"{in_words(report.suppressed, 'nobody')}; {sent.sent:,} written as .eml files to "
               f"{current_app.config['SHOPCRM_OUTBOX_DIR']}")
    click.echo("")
    click.echo(f"admin panel: {current_app.config['SHOPCRM_PUBLIC_URL']}admin/")
    click.echo(f"log in as   {admin_email}  /  {password}")


class DemoJobs:
    """What cron does in production, every few seconds in a thread of the demo server: run an
    analysis asked for with "Run now", render launched campaigns and send, evaluate the automatic
    e-mails. Only ``demo-serve`` starts it; production runs the ``flask shopcrm`` commands."""

    def __init__(self, app, every: float, echo=click.echo):
        self.app, self.every, self.echo = app, every, echo
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="demo-jobs", daemon=True)
        self.rounds = 0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)

    def _loop(self) -> None:
        while not self.stopped.wait(self.every):
            self.run_once()

    def run_once(self) -> None:
        from .. import panel_settings
        from ..campaigns.service import enqueue_due
        from ..campaigns.triggers import run_triggers
        from ..delivery.sender import send_due
        from ..errors import RunLocked, ShopCRMError
        from ..segmentation.queue import run_next_queued

        jobs = (("analysis", run_next_queued), ("campaigns", enqueue_due), ("triggers", run_triggers),
                ("send", send_due))
        with self.app.app_context():
            panel_settings.apply()
            for name, job in jobs:
                try:
                    outcome = job()
                except RunLocked:
                    db.session.rollback()  # the other holder does it
                except ShopCRMError as exc:
                    db.session.rollback()
                    self.echo(f"demo jobs: {name}: {exc}", err=True)
                except Exception as exc:  # noqa: BLE001 - the demo server keeps serving; the job runs again
                    db.session.rollback()
                    self.echo(f"demo jobs: {name} failed: {exc.__class__.__name__}: {exc}", err=True)
                else:
                    self._report(name, outcome)
            db.session.remove()
        self.rounds += 1

    def _report(self, name: str, outcome) -> None:
        if name == "analysis" and outcome:
            self.echo(f"demo jobs: the queued analysis #{outcome[0].id} is done")
        elif name == "campaigns":
            for campaign, report in outcome or []:
                self.echo(f"demo jobs: campaign #{campaign.id} rendered: {report.queued:,} e-mails queued")
        elif name == "send" and outcome is not None and outcome.sent:
            self.echo(f"demo jobs: {outcome.sent:,} e-mails written to {self.app.config['SHOPCRM_OUTBOX_DIR']}")
        elif name == "triggers":
            queued = sum(int(r.get("queued") or 0) for r in (outcome or {}).values())
            if queued:
                self.echo(f"demo jobs: automatic e-mails queued {queued:,} message(s)")


@shopcrm_group.command("demo-serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--every", default=5.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds between two rounds of the scheduled jobs.")
def demo_serve_command(host, port, every):
    """Serve the demo: shop, panel and jobs.

    The demo shop's pages at /, shopcrm at /crm, and the jobs cron runs in production (queued
    analyses, launched campaigns, automatic e-mails, sending) every few seconds. For the demo
    only: it refuses to start when SHOPCRM_ENV is production."""
    from werkzeug.serving import run_simple

    from ..config import is_production
    from ..demo.shopfront import DemoDispatcher, create_shop_app

    app = current_app._get_current_object()
    config = app.config
    if is_production(config):
        raise click.ClickException("demo-serve serves the demo only; set SHOPCRM_ENV=development "
                                   "(production runs the shop, Apache and cron instead)")
    shop = create_shop_app(config["SHOPCRM_SHOP_DATABASE_URI"], {
        key: config.get(key) for key in ("SHOPCRM_SHOP_NAME", "SHOPCRM_CURRENCY", "SHOPCRM_LOCALE",
                                         "SHOPCRM_SHOP_TIMEZONE", "SHOPCRM_PUBLIC_URL")})
    jobs = DemoJobs(app, every)
    jobs.start()
    click.echo(f"demo shop:   http://{host}:{port}/")
    click.echo(f"admin panel: http://{host}:{port}{config.get('SHOPCRM_MOUNT') or ''}/admin/  (Ctrl-C to stop)")
    click.echo(f"the scheduled jobs run every {every:g} s in this process, as cron would")
    try:
        run_simple(host, port, DemoDispatcher(shop.wsgi_app, app, config.get("SHOPCRM_MOUNT") or "/crm"),
                   threaded=True, use_reloader=False)
    finally:
        jobs.stop()
