"""Delivery: send due messages, inspect the outbox, suppress an address."""
from __future__ import annotations

import click
from flask import current_app

from ..extensions import db
from ..vocab import SUPPRESSION_REASONS
from . import friendly_errors, in_words, shopcrm_group


@shopcrm_group.command("send")
@click.option("--max", "max_messages", type=click.IntRange(1), help="Stop after this many messages.")
@click.option("--batch-size", type=click.IntRange(1, 10000))
@click.option("--worker", help="Name of an additional sender running in parallel (its own lock).")
@click.option("--channel", type=click.Choice(["both", "email", "sms"]), default="both", show_default=True,
              help="Send e-mail, SMS (when SHOPCRM_TWILIO_ACCOUNT_SID is set), or both.")
@friendly_errors
def send_command(max_messages, batch_size, worker, channel):
    """Render due campaigns, send due e-mail and SMS.

    Launched campaigns whose time has come are rendered into the outbox; due e-mails go to the
    mail server (or to .eml files without MAIL_SERVER), due SMS to Twilio."""
    from ..campaigns.service import enqueue_due
    from ..delivery.sender import SendReport, send_due

    config = current_app.config
    for campaign, queued in enqueue_due():
        click.echo(f"campaign #{campaign.id} rendered: queued {queued.queued:,}, not sent "
                   f"{in_words(queued.suppressed, 'to nobody')}")
    report = SendReport()
    if channel in ("both", "email"):
        report = send_due(max_messages=max_messages, batch_size=batch_size, worker=worker)
        where = config.get("MAIL_SERVER") or config["SHOPCRM_OUTBOX_DIR"]
        click.echo(f"sent {report.sent}, retrying {report.retried}, failed {report.failed}, "
                   f"suppressed {report.suppressed}, cancelled {report.cancelled} (to {where})")
        if report.reasons:
            click.echo("not sent: " + in_words(report.reasons))
    if channel == "sms" or (channel == "both" and worker is None):  # an extra e-mail worker leaves texts alone
        _send_sms(config, max_messages, batch_size, report, asked=channel == "sms")
    for error in report.errors:
        click.echo(f"warning: {error}", err=True)
    if report.in_doubt:
        click.echo(f"warning: {report.in_doubt} message(s) in doubt (handed to the mail server, no answer came: "
                   "they may have arrived); see `flask shopcrm outbox in-doubt`", err=True)
    if report.resent_in_doubt:
        click.echo(f"{report.resent_in_doubt} message(s) in doubt sent again with their Message-ID "
                   "(SHOPCRM_RESEND_IN_DOUBT)")
    if not str(config["SHOPCRM_PUBLIC_URL"]).startswith("https://") and config.get("SHOPCRM_ENV") == "production":
        click.echo("warning: SHOPCRM_PUBLIC_URL is not https; Gmail and Yahoo expect https one-click "
                   "unsubscribe links", err=True)
    if report.delivered_nothing:  # cron and monitoring must see this run as failed
        from ..campaigns.results import outbox_counts

        waiting = outbox_counts().get("queued", 0)
        click.echo(f"error: nothing was delivered: {report.errors[0]}; {waiting} message(s) wait for the next run",
                   err=True)
        click.get_current_context().exit(1)


def _send_sms(config, max_messages, batch_size, email_report, asked: bool) -> None:
    """The SMS part of ``send``; its errors join the e-mail run's for the exit code."""
    from ..delivery.sms.sender import send_sms_due
    from ..errors import RunLocked

    if not config.get("SHOPCRM_TWILIO_ACCOUNT_SID"):
        if asked:
            raise click.ClickException("SMS is off: set SHOPCRM_TWILIO_ACCOUNT_SID and the other SHOPCRM_TWILIO_* "
                                       "settings in the instance file (docs/SMS.md)")
        return
    try:
        report = send_sms_due(max_messages=max_messages, batch_size=batch_size)
    except RunLocked as exc:
        if asked:
            raise
        click.echo(f"SMS: left to the run that is sending texts now ({exc})")
        return
    click.echo(f"SMS: sent {report.sent}, retried {report.retried}, failed {report.failed}, "
               f"suppressed {report.suppressed}, cancelled {report.cancelled}")
    if report.reasons:
        click.echo("SMS not sent: " + in_words(report.reasons))
    if report.quiet_until is not None:
        click.echo(f"SMS wait for the end of quiet hours (SHOPCRM_SMS_QUIET_HOURS): {report.quiet_until:%Y-%m-%d %H:%M} "
                   "UTC")
    email_report.sent += report.sent
    email_report.errors.extend(report.errors)
    email_report.in_doubt = max(email_report.in_doubt, report.in_doubt)


@shopcrm_group.group("outbox")
def outbox_group():
    """Inspect the outbox; settle messages in doubt.

    A message is in doubt when a sender stopped while handing it to the mail server."""


@outbox_group.command("status")
@friendly_errors
def outbox_status_command():
    """Count messages per state, and those in doubt."""
    from ..campaigns.results import outbox_counts
    from ..delivery.sender import count_in_doubt

    counts = outbox_counts()
    click.echo(("messages: " + in_words(counts)) if counts else "the outbox is empty")
    click.echo(f"in doubt: {count_in_doubt():,}")


@outbox_group.command("in-doubt")
@friendly_errors
def outbox_in_doubt_command():
    """List the messages left in doubt.

    Handed to the mail server by a sender that stopped before it recorded the answer."""
    from ..delivery.sender import in_doubt

    rows = in_doubt()
    for row in rows:
        recipient = f"SMS to {row.phone}" if row.channel == "sms" else row.email
        ident = "" if row.channel == "sms" else f"  Message-ID {row.message_id or '?'}"
        click.echo(f"#{row.id}  campaign #{row.campaign_id}  {recipient}  handed over {_utc(row.claimed_at)} UTC "
                   f"by {row.claimed_by}{ident}"
                   + (f"  ({row.reason})" if row.reason else ""))
    click.echo(f"{len(rows)} message(s) in doubt" + ("; settle each with `flask shopcrm outbox resolve ID "
                                                     "--sent|--requeue`" if rows else ""))


@outbox_group.command("resolve")
@click.argument("message_id", type=int)
@click.option("--sent", "outcome", flag_value="sent", help="It arrived (e.g. the mail server's log shows it).")
@click.option("--requeue", "outcome", flag_value="requeue", help="Send it again (it may then arrive twice).")
@friendly_errors
def outbox_resolve_command(message_id, outcome):
    """Settle one message left in doubt."""
    from ..delivery.sender import resolve_in_doubt

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
    """Never send marketing e-mail to an address.

    E.g. after a complaint from a feedback loop; the panel's "Do not email" page does the same."""
    from ..delivery.addresses import address_hash, normalize
    from ..delivery.suppression import suppress

    address = normalize(email)
    if address is None:
        raise click.ClickException(f"{email!r} is not an email address")
    added = suppress(address_hash(address), reason)
    db.session.commit()
    click.echo(f"{address} {'suppressed' if added else 'was already suppressed'} ({reason})")


def _utc(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "?"
