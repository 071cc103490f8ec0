"""``flask shopcrm …``: the commands cron runs and the ones a hosting admin types.

Commands only trigger services (pipeline, campaigns, sender); domain errors become readable
``click.ClickException`` messages, never tracebacks.
"""
from __future__ import annotations

import functools
import json
import secrets
from datetime import datetime

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from .config import write_instance_settings
from .errors import ShopCRMError
from .extensions import db
from .models import Campaign, User
from .vocab import ALGORITHMS, LEVELS, ROLES, SUPPRESSION_REASONS, TRIGGER_KINDS, VALUE_TYPES

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
    """Create the instance folder and a settings file with a fresh SECRET_KEY (never overwritten).

    In production, where the app refuses to start without a key, use ``python -m shopcrm init``.
    """
    path, written = write_instance_settings(current_app.instance_path)
    click.echo(f"wrote {path} with a new SECRET_KEY" if written else f"{path} exists; left as it is.")


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
    from .demo import generator as demo
    from .demo import schema as generic_schema

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


# --- the shop mapping: doctor ----------------------------------------------------------------------

@shopcrm_group.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for scripts).")
def doctor_command(as_json):
    """Check the shop mapping against the live shop database; exit 1 when something required is missing."""
    import json

    from .shop.doctor import report_for_app

    report = report_for_app()
    click.echo(json.dumps(report.to_dict(), indent=2, default=str) if as_json else report.render())
    try:  # the settings page shows the latest report; before `init` there is nowhere to keep it
        from .admin.settings import store_report

        store_report(report)
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
    if not report.ok:
        click.get_current_context().exit(1)


# --- segmentation ----------------------------------------------------------------------------------

@shopcrm_group.command("segment")
@click.option("--k", "n_clusters", type=click.IntRange(1, 50), help="Fixed number of interest segments (default: automatic).")
@click.option("--algorithm", type=click.Choice(ALGORITHMS),
              help="Clustering algorithm (default: SHOPCRM_CLUSTER_ALGORITHM).")
@click.option("--level", type=click.Choice(LEVELS),
              help="Segment on category, brand or both interests (default: SHOPCRM_INTEREST_LEVEL).")
@click.option("--as-of", "as_of_text", help="Compute as if it were this date (default: now).")
@click.option("--wait", default=0, show_default=True, type=float, help="Seconds to wait if another run holds the lock.")
@click.option("--quiet", is_flag=True, help="No progress bar (cron logs).")
@friendly_errors
def segment_command(n_clusters, algorithm, level, as_of_text, wait, quiet):
    """Run a segmentation (extract → mine → store) and make it current."""
    from .segmentation.run import RunParams, run_segmentation

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
    _refresh_search_index()


def _refresh_search_index() -> None:
    """After a run, rebuild the customer search's word index (the admin's name searches)."""
    from .segmentation import search_index as search

    state = search.refresh()
    click.echo(f"customer search index: {state.customers} customers, {state.words} words in {state.seconds} s")


@shopcrm_group.command("search-index")
@friendly_errors
def search_index_command():
    """Rebuild the word index the admin's customer search uses (also done after every segmentation)."""
    _refresh_search_index()


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@shopcrm_group.command("run-queued")
@friendly_errors
def run_queued_command():
    """Carry out a segmentation an admin queued with "Run now" (cron, every few minutes).

    Nothing queued: nothing happens. The admin panel never runs a segmentation inside a web
    request; it only queues one for this command.
    """
    from .models import Run
    from .segmentation.run import run_segmentation

    queued = db.session.scalars(sa.select(Run).where(Run.status == "queued").order_by(Run.id).limit(1)).first()
    if queued is None:
        click.echo("nothing queued")
        return
    run = run_segmentation(requested_by=queued.requested_by or "admin", run_id=queued.id)
    counts = run.counts or {}
    click.echo(f"queued run #{run.id} ({run.requested_by}) succeeded: {counts.get('customers')} customers, "
               f"{counts.get('segments')} segments in {run.timings.get('total')} s")
    _refresh_search_index()


@shopcrm_group.command("assign-new")
@click.option("--wait", default=0, show_default=True, type=float, help="Seconds to wait if a run holds the lock.")
@friendly_errors
def assign_new_command(wait):
    """Place customers who signed up since the current run into its segments (no full run)."""
    from .segmentation.run import assign_new

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

def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _rfm_range(value: str | None) -> list[int] | None:
    if not value:
        return None
    low, _, high = value.partition("-")
    try:
        return [int(low), int(high or low)]
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: use a score or a range like 4-5") from exc


def _campaign_or_fail(campaign_id: int) -> Campaign:
    from .campaigns.service import get_campaign

    return get_campaign(campaign_id)


@shopcrm_group.group("campaign")
def campaign_group():
    """Create, launch, enqueue, cancel and inspect campaigns."""


@campaign_group.command("create")
@click.option("--name", required=True)
@click.option("--segment", "segment_ids", type=int, multiple=True, help="Interest segment id (repeatable).")
@click.option("--segment-name", "segment_names", multiple=True, help="Interest segment by name (repeatable).")
@click.option("--value-types", multiple=True, help=f"Value types, comma-separated: {', '.join(VALUE_TYPES)}.")
@click.option("--rfm-r", help="Recency score range, e.g. 4-5 (5 = best).")
@click.option("--rfm-f", help="Frequency score range.")
@click.option("--rfm-m", help="Monetary score range.")
@click.option("--churn-risk/--no-churn-risk", default=None, help="Only customers at (or not at) risk of churning.")
@click.option("--min-churn-score", type=click.FloatRange(0, 1))
@click.option("--action", "actions", multiple=True, help="Recommended action (repeatable or comma-separated).")
@click.option("--country", "countries", multiple=True)
@click.option("--region", "regions", multiple=True)
@click.option("--city", "cities", multiple=True)
@click.option("--source", "sources", multiple=True)
@click.option("--template", default="segment_offer", show_default=True, help="Shipped template to start from.")
@click.option("--coupon")
@friendly_errors
def campaign_create_command(name, segment_ids, segment_names, value_types, rfm_r, rfm_f, rfm_m, churn_risk,
                            min_churn_score, actions, countries, regions, cities, sources, template, coupon):
    """Create a draft campaign. Without any target option it goes to the potential profitable
    (high value, most growth, new)."""
    from .campaigns.service import create_campaign
    from .campaigns.targets import audience_count, default_offer_target, describe

    rfm = {k: v for k, v in (("r", _rfm_range(rfm_r)), ("f", _rfm_range(rfm_f)), ("m", _rfm_range(rfm_m))) if v}
    target = {"segment_ids": list(segment_ids), "segment_names": list(segment_names),
              "value_types": _split(value_types), "rfm": rfm, "churn_risk": churn_risk,
              "min_churn_score": min_churn_score, "actions": _split(actions), "countries": _split(countries),
              "regions": _split(regions), "cities": _split(cities), "sources": _split(sources)}
    if not any(v not in (None, [], {}) for v in target.values()):
        target = default_offer_target()
    campaign = create_campaign(name, target, template=template, coupon=coupon, created_by="cli")
    db.session.commit()
    click.echo(f"campaign #{campaign.id} created for {describe(campaign.target)}; "
               f"audience {audience_count(campaign.target)}")


@campaign_group.command("list")
@friendly_errors
def campaign_list_command():
    """Every campaign with its status and outbox counts."""
    from .campaigns.results import outbox_counts

    for campaign in db.session.scalars(sa.select(Campaign).order_by(Campaign.id)):
        counts = outbox_counts(campaign.id)
        click.echo(f"#{campaign.id:<5} {campaign.status:<10} {campaign.kind:<18} {campaign.name}  "
                   + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))


@campaign_group.command("show")
@click.argument("campaign_id", type=int)
@friendly_errors
def campaign_show_command(campaign_id):
    """Results: outbox states, reasons, clicks, and orders attributed after a click."""
    from .campaigns.results import campaign_results

    results = campaign_results(_campaign_or_fail(campaign_id))
    for key, value in results.items():
        click.echo(f"{key:>22}: {value}")


@campaign_group.command("launch")
@click.argument("campaign_id", type=int)
@click.option("--at", "at_text", help="Send later: a UTC date and time like 2026-12-01T08:00 (default: now).")
@friendly_errors
def campaign_launch_command(campaign_id, at_text):
    """Schedule the campaign; the next `send` run renders and delivers it."""
    from .campaigns.service import launch

    campaign = launch(_campaign_or_fail(campaign_id), _parse_datetime(at_text))
    db.session.commit()
    click.echo(f"campaign #{campaign.id} scheduled for {campaign.scheduled_at:%Y-%m-%d %H:%M} UTC")


@campaign_group.command("cancel")
@click.argument("campaign_id", type=int)
@friendly_errors
def campaign_cancel_command(campaign_id):
    """Stop a campaign: its queued messages are cancelled at once."""
    from .campaigns.service import cancel

    cancelled = cancel(_campaign_or_fail(campaign_id))
    db.session.commit()
    click.echo(f"campaign #{campaign_id} cancelled; {cancelled} queued message(s) will not be sent")


@campaign_group.command("enqueue")
@click.argument("campaign_id", type=int)
@friendly_errors
def campaign_enqueue_command(campaign_id):
    """Render and queue the campaign's messages now (safe to repeat: nothing is queued twice)."""
    from .campaigns.service import enqueue

    report = enqueue(_campaign_or_fail(campaign_id))
    click.echo(f"audience {report.audience}: queued {report.queued}, already queued {report.already_queued}, "
               f"suppressed {report.suppressed or 0}, gone from the shop {report.customer_gone}")


@shopcrm_group.command("send")
@click.option("--max", "max_messages", type=click.IntRange(1), help="Stop after this many messages.")
@click.option("--batch-size", type=click.IntRange(1, 10000))
@click.option("--worker", help="Name of an additional sender running in parallel (its own lock).")
@friendly_errors
def send_command(max_messages, batch_size, worker):
    """Render launched campaigns whose time has come, then deliver due messages
    (SMTP, or .eml files without MAIL_SERVER)."""
    from .campaigns.service import enqueue_due
    from .delivery.sender import send_due

    config = current_app.config
    for campaign, queued in enqueue_due():
        click.echo(f"campaign #{campaign.id} rendered: queued {queued.queued}, suppressed {queued.suppressed or 0}")
    report = send_due(max_messages=max_messages, batch_size=batch_size, worker=worker)
    where = config.get("MAIL_SERVER") or config["SHOPCRM_OUTBOX_DIR"]
    click.echo(f"sent {report.sent}, retrying {report.retried}, failed {report.failed}, "
               f"suppressed {report.suppressed}, cancelled {report.cancelled} (to {where})")
    if report.reasons:
        click.echo("not sent: " + ", ".join(f"{n} {reason}" for reason, n in sorted(report.reasons.items())))
    for error in report.errors:
        click.echo(f"warning: {error}", err=True)
    if report.in_doubt:
        click.echo(f"warning: {report.in_doubt} message(s) in doubt (a sender stopped while handing them over); "
                   "see `flask shopcrm outbox in-doubt`", err=True)
    if not str(config["SHOPCRM_PUBLIC_URL"]).startswith("https://") and config.get("SHOPCRM_ENV") == "production":
        click.echo("warning: SHOPCRM_PUBLIC_URL is not https; Gmail and Yahoo expect https one-click "
                   "unsubscribe links", err=True)


@shopcrm_group.group("outbox")
def outbox_group():
    """Inspect the outbox and settle messages left in doubt by a crashed sender."""


@outbox_group.command("status")
@friendly_errors
def outbox_status_command():
    from .campaigns.results import outbox_counts
    from .delivery.sender import count_in_doubt

    counts = outbox_counts()
    click.echo(", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "the outbox is empty")
    click.echo(f"in doubt: {count_in_doubt()}")


@outbox_group.command("in-doubt")
@friendly_errors
def outbox_in_doubt_command():
    """List messages handed to the mail server by a sender that died before recording the answer."""
    from .delivery.sender import in_doubt

    rows = in_doubt()
    for row in rows:
        click.echo(f"#{row.id}  campaign #{row.campaign_id}  {row.email}  claimed {row.claimed_at:%Y-%m-%d %H:%M:%S} "
                   f"by {row.claimed_by}")
    click.echo(f"{len(rows)} message(s) in doubt" + ("; settle each with `flask shopcrm outbox resolve ID "
                                                     "--sent|--requeue`" if rows else ""))


@outbox_group.command("resolve")
@click.argument("message_id", type=int)
@click.option("--sent", "outcome", flag_value="sent", help="It arrived (e.g. the mail server's log shows it).")
@click.option("--requeue", "outcome", flag_value="requeue", help="Send it again (it may then arrive twice).")
@friendly_errors
def outbox_resolve_command(message_id, outcome):
    from .delivery.sender import resolve_in_doubt

    if outcome is None:
        raise click.UsageError("choose --sent or --requeue")
    row = resolve_in_doubt(message_id, outcome)
    db.session.commit()
    click.echo(f"message #{row.id} is now {row.state}")


@shopcrm_group.command("suppress")
@click.argument("email")
@click.option("--reason", type=click.Choice([r for r in SUPPRESSION_REASONS if r not in ("soft_bounce", "forgotten")]),
              default="manual",
              show_default=True)
@friendly_errors
def suppress_command(email, reason):
    """Never send marketing email to this address again (e.g. a complaint from a feedback loop)."""
    from .delivery.addresses import address_hash, normalize
    from .delivery.suppression import suppress

    address = normalize(email)
    if address is None:
        raise click.ClickException(f"{email!r} is not an email address")
    added = suppress(address_hash(address), reason)
    db.session.commit()
    click.echo(f"{address} {'suppressed' if added else 'was already suppressed'} ({reason})")


@shopcrm_group.group("triggers")
def triggers_group():
    """Automatic campaigns: after each run, abandoned cart, browse abandonment, win-back."""


@triggers_group.command("run")
@click.option("--now", "now_text", help="Evaluate as if it were this shop-local time (default: now).")
@click.option("--only", type=click.Choice(TRIGGER_KINDS),
              help="Evaluate this trigger only, even if it is disabled.")
@friendly_errors
def triggers_run_command(now_text, only):
    """Evaluate the enabled triggers and queue their messages (run it from cron; `send` delivers)."""
    from .campaigns.triggers import run_triggers

    reports = run_triggers(now=_parse_datetime(now_text), only=only)
    if not reports:
        click.echo("no trigger is enabled; enable one with `flask shopcrm triggers set KIND --enable`")
    for kind, report in reports.items():
        click.echo(f"{kind}: {report['note']}; candidates {report['audience']}, queued {report['queued']}, "
                   f"already queued {report['already_queued']}, suppressed {report['suppressed'] or 0}")


@triggers_group.command("list")
@friendly_errors
def triggers_list_command():
    from .campaigns.triggers import ensure_triggers

    for trigger in ensure_triggers():
        state = "enabled " if trigger.enabled else "disabled"
        click.echo(f"{trigger.kind:<19} {state} campaign #{trigger.campaign_id} "
                   f"coupon={trigger.campaign.coupon or '-'} {json.dumps(trigger.params, sort_keys=True)}")


@triggers_group.command("set")
@click.argument("kind", type=click.Choice(TRIGGER_KINDS))
@click.option("--enable/--disable", default=None)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help='A parameter, e.g. hours=6 or target={"value_types":["new"]} (repeatable).')
@click.option("--coupon", help="Coupon code shown in this trigger's emails (empty to remove).")
@friendly_errors
def triggers_set_command(kind, enable, params, coupon):
    """Enable, disable or configure a trigger."""
    from .campaigns.triggers import configure

    parsed = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: use KEY=VALUE")
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value
    trigger = configure(kind, enabled=enable, params=parsed or None, coupon=coupon)
    db.session.commit()
    click.echo(f"{kind}: {'enabled' if trigger.enabled else 'disabled'}; {json.dumps(trigger.params, sort_keys=True)}")


# --- everything at once for the demo ---------------------------------------------------------------

@shopcrm_group.command("demo")
@click.option("--customers", default=3000, show_default=True, type=click.IntRange(10, 1_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--admin-email", default="admin@example.com", show_default=True)
@friendly_errors
def demo_command(customers, seed, admin_email):
    """Build the demo shop, migrate, create an admin, segment, and 'send' a campaign to .eml files."""
    from flask_migrate import upgrade

    from .campaigns.service import create_campaign, enqueue
    from .delivery.sender import send_due
    from .demo import generator as demo
    from .segmentation.run import run_segmentation

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
    _refresh_search_index()
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
