"""``flask shopcrm …``: the commands cron runs and the ones a hosting admin types.

Commands only trigger services (pipeline, campaigns, sender); domain errors become readable
``click.ClickException`` messages, never tracebacks.
"""
from __future__ import annotations

import functools
import os
import secrets
from datetime import datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from .errors import ShopCRMError
from .extensions import db
from .models import ROLES, VALUE_TYPES, Campaign, User

shopcrm_group = AppGroup("shopcrm", help="shopcrm: segment the shop's customers and email them.")


def friendly_errors(command):
    """Turn domain errors into one clear line and a non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ShopCRMError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _parse_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-01 or 2026-11-01T08:00") from exc


# --- set-up ----------------------------------------------------------------------------------------

@shopcrm_group.command("init")
def init_command():
    """Create the instance folder and a settings file with a fresh SECRET_KEY (never overwritten)."""
    path = Path(current_app.instance_path) / "shopcrm.cfg"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        click.echo(f"{path} exists; left as it is.")
        return
    path.write_text(
        "# shopcrm settings (Python syntax). See README.md for every key.\n"
        f"SECRET_KEY = {secrets.token_hex(32)!r}\n", encoding="utf-8")
    os.chmod(path, 0o600)
    click.echo(f"wrote {path} with a new SECRET_KEY")


@shopcrm_group.command("migrate")
def migrate_command():
    """Create or upgrade shopcrm's own tables (crm_*). Never touches the shop's tables."""
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)
    click.echo("shopcrm tables are up to date")


@shopcrm_group.command("create-user")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password", help="Omit to be asked (recommended: it stays out of the shell history).")
@friendly_errors
def create_user_command(email: str, role: str, password: str | None):
    """Create an admin-panel user, or reset an existing user's password and role."""
    email = email.strip().lower()
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise click.ClickException("use a password of at least 10 characters")
    user = db.session.scalar(sa.select(User).where(User.email == email))
    created = user is None
    if created:
        user = User(email=email)
        db.session.add(user)
    user.role, user.active, user.failed_logins, user.locked_until = role, True, 0, None
    user.set_password(password)
    db.session.commit()
    click.echo(f"{'created' if created else 'updated'} user {email} with role {role}")


# --- the demo shop ---------------------------------------------------------------------------------

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
    """Generate a realistic, deterministic demo shop in the generic schema."""
    from .shop import demo, generic_schema

    if print_ddl:
        click.echo(generic_schema.ddl(print_ddl))
        return
    url = url or current_app.config["SHOPCRM_SHOP_DATABASE_URI"]
    engine = sa.create_engine(url, connect_args={"local_infile": True} if url.startswith("mysql") else {})
    try:
        shop = demo.generate(seed=seed, customers=customers, now=_parse_datetime(now_text),
                             views_per_customer=views_per_customer)
        counts = demo.write(engine, shop, replace=replace)
    finally:
        engine.dispose()
    click.echo(f"demo shop written to {engine.url.render_as_string(hide_password=True)}: "
               + ", ".join(f"{n} {t}" for t, n in counts.items()))


# --- segmentation ----------------------------------------------------------------------------------

@shopcrm_group.command("segment")
@click.option("--k", "n_clusters", type=click.IntRange(1, 50), help="Fixed number of interest segments (default: automatic).")
@click.option("--algorithm", type=click.Choice(["kmeans", "agglomerative"]),
              help="Clustering algorithm (default: SHOPCRM_CLUSTER_ALGORITHM).")
@click.option("--level", type=click.Choice(["category", "brand", "both"]),
              help="Segment on category, brand or both interests (default: SHOPCRM_INTEREST_LEVEL).")
@click.option("--as-of", "as_of_text", help="Compute as if it were this date (default: now).")
@click.option("--wait", default=0, show_default=True, type=float, help="Seconds to wait if another run holds the lock.")
@click.option("--quiet", is_flag=True, help="No progress bar (cron logs).")
@friendly_errors
def segment_command(n_clusters, algorithm, level, as_of_text, wait, quiet):
    """Run a segmentation (extract → mine → store) and make it current."""
    from .pipeline import RunParams, run_segmentation

    params = RunParams.from_config(current_app.config, n_clusters=n_clusters, algorithm=algorithm, level=level)
    as_of = _parse_datetime(as_of_text)
    if quiet:
        run = run_segmentation(params=params, as_of=as_of, requested_by="cli", wait=wait)
    else:
        with click.progressbar(length=100, label="segmentation", item_show_func=lambda stage: stage) as bar:
            def progress(stage: str, fraction: float) -> None:
                bar.update(max(0, round(fraction * 100) - bar.pos), stage)

            run = run_segmentation(params=params, as_of=as_of, requested_by="cli", progress=progress, wait=wait)
    counts, quality = run.counts or {}, run.quality or {}
    stability = (quality.get("stability") or {}).get("mean_ari")
    click.echo(f"run #{run.id} succeeded: {counts.get('customers')} customers, "
               f"{counts.get('with_interest')} with interest data, {counts.get('segments')} segments "
               f"in {run.timings.get('total')} s (extract {run.timings.get('extract')} s, "
               f"mine {run.timings.get('mine')} s, store {run.timings.get('store')} s)")
    click.echo(f"quality: silhouette {_fmt(quality.get('silhouette'))}, Davies-Bouldin "
               f"{_fmt(quality.get('davies_bouldin'))}, stability (ARI) {_fmt(stability)}"
               + (f", {quality['migration']['moved']} customers moved since run #{quality['migration']['previous_run']}"
                  if quality.get("migration") else ""))
    click.echo("value types: " + ", ".join(f"{t} {n}" for t, n in sorted((counts.get("value_types") or {}).items())))
    click.echo("rules: " + ", ".join(f"{k} {n}" for k, n in (counts.get("rules") or {}).items()))
    for seg in run.segments:
        click.echo(f"  #{seg.id:<5} {seg.size:>7}  {seg.name}")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@shopcrm_group.command("assign-new")
@click.option("--wait", default=0, show_default=True, type=float, help="Seconds to wait if a run holds the lock.")
@friendly_errors
def assign_new_command(wait):
    """Place customers who signed up since the current run into its segments (no full run)."""
    from .pipeline import assign_new

    report = assign_new(wait=wait)
    click.echo(f"run #{report.run_id}: {report.new_customers} new customer(s) placed, "
               f"{report.with_interest} of them in an interest segment")


@shopcrm_group.command("runs")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
def runs_command(limit):
    """The latest runs: status, duration, size and quality."""
    from .models import Run

    runs = db.session.scalars(sa.select(Run).order_by(Run.id.desc()).limit(limit)).all()
    if not runs:
        click.echo("no runs yet")
    for run in runs:
        counts, quality, timings = run.counts or {}, run.quality or {}, run.timings or {}
        line = f"#{run.id:<5} {run.status:<9} {run.started_at or run.created_at:%Y-%m-%d %H:%M}"
        if run.status == "succeeded":
            line += (f"  {timings.get('total', '?')} s  {counts.get('customers')} customers, "
                     f"{counts.get('segments')} segments, silhouette {_fmt(quality.get('silhouette'))}, "
                     f"stability {_fmt((quality.get('stability') or {}).get('mean_ari'))}")
        elif run.error:
            line += f"  {run.error[:120]}"
        click.echo(line)


# --- campaigns and sending ------------------------------------------------------------------------

@shopcrm_group.group("campaign")
def campaign_group():
    """Create and enqueue campaigns."""


@campaign_group.command("create")
@click.option("--name", required=True)
@click.option("--segment", "segment_id", type=int, help="Target this interest segment (id).")
@click.option("--value-types", help=f"Comma-separated value types: {', '.join(VALUE_TYPES)}.")
@click.option("--coupon")
@friendly_errors
def campaign_create_command(name, segment_id, value_types, coupon):
    from .campaigns.service import audience_count, create_campaign

    target = {"segment_id": segment_id,
              "value_types": [v.strip() for v in value_types.split(",") if v.strip()] if value_types else None}
    campaign = create_campaign(name, target, coupon=coupon, created_by="cli")
    db.session.commit()
    click.echo(f"campaign #{campaign.id} created; audience {audience_count(campaign.target)}")


@campaign_group.command("enqueue")
@click.argument("campaign_id", type=int)
@friendly_errors
def campaign_enqueue_command(campaign_id):
    """Render and queue the campaign's messages (safe to repeat: nothing is queued twice)."""
    from .campaigns.service import enqueue

    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"no campaign #{campaign_id}")
    report = enqueue(campaign)
    click.echo(f"audience {report.audience}: queued {report.queued}, already queued {report.already_queued}, "
               f"suppressed {report.suppressed or 0}, gone from the shop {report.customer_gone}")


@shopcrm_group.command("send")
@click.option("--max", "max_messages", type=click.IntRange(1), help="Stop after this many messages.")
@click.option("--batch-size", type=click.IntRange(1, 10000))
@friendly_errors
def send_command(max_messages, batch_size):
    """Deliver due messages from the outbox (SMTP, or .eml files without MAIL_SERVER)."""
    from .campaigns.sender import send_due

    report = send_due(max_messages=max_messages, batch_size=batch_size)
    where = current_app.config.get("MAIL_SERVER") or current_app.config["SHOPCRM_OUTBOX_DIR"]
    click.echo(f"sent {report.sent}, retrying {report.retried}, failed {report.failed}, "
               f"suppressed {report.suppressed} (to {where})")
    for error in report.errors:
        click.echo(f"warning: {error}", err=True)


# --- everything at once for the demo ---------------------------------------------------------------

@shopcrm_group.command("demo")
@click.option("--customers", default=3000, show_default=True, type=click.IntRange(10, 1_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--admin-email", default="admin@example.com", show_default=True)
@friendly_errors
def demo_command(customers, seed, admin_email):
    """Build the demo shop, migrate, create an admin, segment, and 'send' a campaign to .eml files."""
    from flask_migrate import upgrade

    from .campaigns.sender import send_due
    from .campaigns.service import create_campaign, enqueue
    from .pipeline import run_segmentation
    from .shop import demo

    ctx = click.get_current_context()
    upgrade(directory=current_app.extensions["migrate"].directory)
    url = current_app.config["SHOPCRM_SHOP_DATABASE_URI"]
    engine = sa.create_engine(url, connect_args={"local_infile": True} if url.startswith("mysql") else {})
    try:
        counts = demo.write(engine, demo.generate(seed=seed, customers=customers), replace=True)
    finally:
        engine.dispose()
    click.echo("demo shop: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    password = secrets.token_urlsafe(12)
    ctx.invoke(create_user_command, email=admin_email, role="admin", password=password)
    started = datetime.now()
    run = run_segmentation(requested_by="demo")
    click.echo(f"segmentation run #{run.id}: {len(run.segments)} segments in "
               f"{(datetime.now() - started).total_seconds():.1f} s ({run.timings})")
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
