"""Campaigns: create, launch, enqueue, cancel, inspect."""
from __future__ import annotations

import click
import sqlalchemy as sa

from ..extensions import db
from ..models import Campaign
from ..vocab import VALUE_TYPES
from . import friendly_errors, parse_datetime, shopcrm_group


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
    from ..campaigns.service import get_campaign

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
    from ..campaigns.service import create_campaign
    from ..campaigns.targets import audience_count, default_offer_target, describe

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
    from ..campaigns.results import outbox_counts

    for campaign in db.session.scalars(sa.select(Campaign).order_by(Campaign.id)):
        counts = outbox_counts(campaign.id)
        click.echo(f"#{campaign.id:<5} {campaign.status:<10} {campaign.kind:<18} {campaign.name}  "
                   + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))


@campaign_group.command("show")
@click.argument("campaign_id", type=int)
@friendly_errors
def campaign_show_command(campaign_id):
    """Results: outbox states, reasons, clicks, and orders attributed after a click."""
    from ..campaigns.results import campaign_results

    results = campaign_results(_campaign_or_fail(campaign_id))
    for key, value in results.items():
        click.echo(f"{key:>22}: {value}")


@campaign_group.command("launch")
@click.argument("campaign_id", type=int)
@click.option("--at", "at_text", help="Send later: a UTC date and time like 2026-12-01T08:00 (default: now).")
@friendly_errors
def campaign_launch_command(campaign_id, at_text):
    """Schedule the campaign; the next `send` run renders and delivers it."""
    from ..campaigns.service import launch

    campaign = launch(_campaign_or_fail(campaign_id), parse_datetime(at_text))
    db.session.commit()
    click.echo(f"campaign #{campaign.id} scheduled for {campaign.scheduled_at:%Y-%m-%d %H:%M} UTC")


@campaign_group.command("cancel")
@click.argument("campaign_id", type=int)
@friendly_errors
def campaign_cancel_command(campaign_id):
    """Stop a campaign: its queued messages are cancelled at once."""
    from ..campaigns.service import cancel

    cancelled = cancel(_campaign_or_fail(campaign_id))
    db.session.commit()
    click.echo(f"campaign #{campaign_id} cancelled; {cancelled} queued message(s) will not be sent")


@campaign_group.command("enqueue")
@click.argument("campaign_id", type=int)
@friendly_errors
def campaign_enqueue_command(campaign_id):
    """Render and queue the campaign's messages now (safe to repeat: nothing is queued twice)."""
    from ..campaigns.service import enqueue

    report = enqueue(_campaign_or_fail(campaign_id))
    click.echo(f"audience {report.audience}: queued {report.queued}, already queued {report.already_queued}, "
               f"suppressed {report.suppressed or 0}, gone from the shop {report.customer_gone}")
