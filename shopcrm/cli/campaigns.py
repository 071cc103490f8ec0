"""Campaigns: create, launch, enqueue, cancel, inspect — in words, never raw dictionaries."""
from __future__ import annotations

import click
import sqlalchemy as sa

from ..extensions import db
from ..formatting import money, number, percent, when
from ..models import Campaign
from ..vocab import CAMPAIGN_STATE_LABELS, VALUE_TYPES
from . import friendly_errors, parse_datetime, shopcrm_group

#: Shipped templates a campaign made by hand can start from (the others need a cart or a view).
CAMPAIGN_TEMPLATES = ("segment_offer", "run_offer", "win_back")


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


@campaign_group.command("create", short_help="Create a draft campaign for stored results.")
@click.option("--name", required=True, help="What the campaign is called (only you see it).")
@click.option("--segment", "segment_ids", type=int, multiple=True, help="Interest segment id (repeatable).")
@click.option("--segment-name", "segment_names", multiple=True,
              help="Interest segment by name, in the current run (repeatable); an unknown name is refused.")
@click.option("--value-types", multiple=True, help=f"Value types, comma-separated: {', '.join(VALUE_TYPES)}.")
@click.option("--rfm-r", help="Recency score range, e.g. 4-5 (5 = best).")
@click.option("--rfm-f", help="Frequency score range.")
@click.option("--rfm-m", help="Monetary score range.")
@click.option("--churn-risk/--no-churn-risk", default=None, help="Only customers at (or not at) risk of churning.")
@click.option("--min-churn-score", type=click.FloatRange(0, 1), help="Only customers with at least this churn score.")
@click.option("--action", "actions", multiple=True, help="Recommended action (repeatable or comma-separated).")
@click.option("--country", "countries", multiple=True, help="Country as the shop stores it (repeatable).")
@click.option("--region", "regions", multiple=True, help="Region as the shop stores it (repeatable).")
@click.option("--city", "cities", multiple=True, help="City as the shop stores it (repeatable).")
@click.option("--source", "sources", multiple=True, help="Where the customer came from, e.g. newsletter (repeatable).")
@click.option("--template", type=click.Choice(CAMPAIGN_TEMPLATES), default="segment_offer", show_default=True,
              help="The kind of e-mail to start from.")
@click.option("--coupon", help="Coupon code shown in the e-mail.")
@click.option("--subject", help="Subject (default: the template's).")
@click.option("--preheader", help="Preview text shown after the subject in the inbox.")
@click.option("--heading", help="The e-mail's heading.")
@click.option("--intro", help="The paragraph under the heading.")
@click.option("--button", help="The label of the e-mail's button.")
@click.option("--products", type=click.IntRange(0, 12), help="How many recommended products to show.")
@click.option("--channel", type=click.Choice(["email", "sms", "both"]), default="email", show_default=True,
              help="Send as e-mail, SMS or both (SMS needs the SHOPCRM_TWILIO_* settings).")
@click.option("--sms-text", help="The SMS text (default: the shipped one); the shop's name, a link and "
                                 "'Reply STOP to opt out' are added.")
@friendly_errors
def campaign_create_command(name, segment_ids, segment_names, value_types, rfm_r, rfm_f, rfm_m, churn_risk,
                            min_churn_score, actions, countries, regions, cities, sources, template, coupon, subject,
                            preheader, heading, intro, button, products, channel, sms_text):
    """Create a draft campaign. Without any target option it goes to the potential profitable
    (high value, most growth, new). A segment name that the current run does not have is
    refused (it would make an empty campaign)."""
    from ..campaigns.service import create_campaign
    from ..campaigns.targets import audience_count, default_offer_target, describe

    rfm = {k: v for k, v in (("r", _rfm_range(rfm_r)), ("f", _rfm_range(rfm_f)), ("m", _rfm_range(rfm_m))) if v}
    target = {"segment_ids": list(segment_ids), "segment_names": list(segment_names),
              "value_types": _split(value_types), "rfm": rfm, "churn_risk": churn_risk,
              "min_churn_score": min_churn_score, "actions": _split(actions), "countries": _split(countries),
              "regions": _split(regions), "cities": _split(cities), "sources": _split(sources)}
    if not any(v not in (None, [], {}) for v in target.values()):
        target = default_offer_target()
    wording = {k: v for k, v in (("preheader", preheader), ("heading", heading), ("intro", intro),
                                 ("button", button), ("products", products)) if v is not None}
    campaign = create_campaign(name, target, template=template, coupon=coupon, created_by="cli", subject=subject,
                               content=wording, channel=channel, sms_body=sms_text)
    db.session.commit()
    size = audience_count(campaign.target)
    click.echo(f"campaign #{campaign.id} created for {describe(campaign.target)}; audience {number(size)}")
    if size == 0:
        click.echo("warning: nobody matches this target now; launching it will be refused until somebody does",
                   err=True)


@campaign_group.command("list", short_help="Every campaign with its status and e-mail counts.")
@friendly_errors
def campaign_list_command():
    """Every campaign with its status and e-mail counts."""
    from ..campaigns.results import outbox_counts
    from ..campaigns.service import settle

    if settle():
        db.session.commit()
    for campaign in db.session.scalars(sa.select(Campaign).order_by(Campaign.id)):
        counts = outbox_counts(campaign.id)
        kind = "" if campaign.kind == "campaign" else f" (trigger {campaign.kind})"
        figures = ", ".join(f"{number(n)} {state}" for state, n in sorted(counts.items())) or "no e-mails yet"
        click.echo(f"#{campaign.id:<5} {CAMPAIGN_STATE_LABELS.get(campaign.status, campaign.status):<10} "
                   f"{campaign.name}{kind}: {figures}")


def _reasons(by_reason: dict) -> str:
    return "".join(f"; {reason.replace('_', ' ')} {number(n)}" for reason, n in sorted(by_reason.items()))


def _rate(value) -> str:
    return f" ({percent(value)})" if value is not None else ""


@campaign_group.command("show", short_help="One campaign's status and results.")
@click.argument("campaign_id", type=int)
@friendly_errors
def campaign_show_command(campaign_id):
    """One campaign's status and results: e-mails by state and reason, clicks, orders and revenue
    after a click, unsubscribes, as counts and rates. When the shop's database cannot be reached
    it prints everything shopcrm counted itself and says the orders could not be counted."""
    from ..campaigns.results import campaign_results
    from ..campaigns.service import settle
    from ..campaigns.targets import describe

    campaign = _campaign_or_fail(campaign_id)
    if campaign.status == "sending" and settle(campaign.id):
        db.session.commit()
        db.session.refresh(campaign)
    r = campaign_results(campaign)
    states = r["states"]
    lines = [
        f"campaign #{campaign.id} {campaign.name!r}: {CAMPAIGN_STATE_LABELS.get(campaign.status, campaign.status)}",
        f"for: {describe(campaign.target or {})}" if campaign.kind == "campaign" else f"trigger: {campaign.kind}",
    ]
    for label, moment in (("scheduled for", campaign.scheduled_at), ("written into the outbox", campaign.enqueued_at),
                          ("last e-mail sent", campaign.finished_at), ("cancelled", campaign.cancelled_at)):
        if moment is not None:
            lines.append(f"{label}: {when(moment)}")
    lines += [
        f"e-mails: {number(r['total'])}; still to send {number(r['waiting'])}"
        + (f" ({number(r['in_doubt'])} in doubt: see `flask shopcrm outbox in-doubt`)" if r["in_doubt"] else ""),
        f"delivered: {number(r['delivered'])}{_rate(r['rates']['delivered'])}",
        f"refused by the mail server: {number(states.get('failed', 0))}{_reasons(r['failed_by_reason'])}",
        f"left out: {number(states.get('suppressed', 0))}{_reasons(r['suppressed_by_reason'])}",
        f"cancelled: {number(states.get('cancelled', 0))}{_reasons(r['cancelled_by_reason'])}",
        f"clicked: {number(r['clicked'])} people{_rate(r['rates']['clicked'])}, {number(r['clicks'])} clicks",
    ]
    if r["opened"] is not None:
        lines.append(f"opened: {number(r['opened'])} (unreliable)")
    if r["orders"] is None:
        lines.append(r["missing"])
    else:
        lines.append(f"orders after a click (within {r['attribution_days']} days): {number(r['orders'])}"
                     f"{_rate(r['rates']['ordered'])}, revenue {money(r['revenue'])}")
    lines.append(f"unsubscribed: {number(r['unsubscribed'])}{_rate(r['rates']['unsubscribed'])}")
    click.echo("\n".join(lines))


@campaign_group.command("launch", short_help="Schedule a campaign; the next `send` run delivers it.")
@click.argument("campaign_id", type=int)
@click.option("--at", "at_text", help="Send later: a UTC date and time like 2026-12-01T08:00 (default: now).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (scripts).")
@friendly_errors
def campaign_launch_command(campaign_id, at_text, yes):
    """Schedule the campaign; the next `send` run renders and delivers it. Asks first, naming the
    number of customers it goes to (--yes: does not ask)."""
    from ..campaigns.service import audience_count, launch

    campaign = _campaign_or_fail(campaign_id)
    at = parse_datetime(at_text)
    if campaign.kind != "campaign" or campaign.status not in ("draft", "scheduled"):
        launch(campaign, at)  # refuses, saying why
    size = audience_count(campaign.target)
    if not yes:
        moment = f"at {at:%Y-%m-%d %H:%M} UTC" if at else "now"
        click.confirm(f"Send campaign #{campaign.id} {campaign.name!r} to {number(size)} customers {moment}?",
                      abort=True)
    campaign = launch(campaign, at, confirmed_audience=size)
    db.session.commit()
    click.echo(f"campaign #{campaign.id} scheduled for {campaign.scheduled_at:%Y-%m-%d %H:%M} UTC "
               f"to {number(size)} customers")


@campaign_group.command("cancel", short_help="Stop a scheduled or sending campaign.")
@click.argument("campaign_id", type=int)
@friendly_errors
def campaign_cancel_command(campaign_id):
    """Stop a scheduled or sending campaign: its queued messages are cancelled at once."""
    from ..campaigns.service import cancel

    cancelled = cancel(_campaign_or_fail(campaign_id))
    db.session.commit()
    click.echo(f"campaign #{campaign_id} cancelled; {cancelled} queued message(s) will not be sent")


@campaign_group.command("enqueue", short_help="Render and queue a campaign's e-mails now.")
@click.argument("campaign_id", type=int)
@friendly_errors
def campaign_enqueue_command(campaign_id):
    """Render and queue the campaign's messages now (safe to repeat: nothing is queued twice)."""
    from ..campaigns.service import enqueue

    report = enqueue(_campaign_or_fail(campaign_id))
    left_out = "".join(f"; {reason.replace('_', ' ')} {number(n)}" for reason, n in sorted(report.suppressed.items()))
    click.echo(f"audience {number(report.audience)}: queued {number(report.queued)}, already queued "
               f"{number(report.already_queued)}, left out {number(sum(report.suppressed.values()))}{left_out}, "
               f"gone from the shop {number(report.customer_gone)}")
