"""Triggers: the automatic campaigns."""
from __future__ import annotations

import json

import click

from ..extensions import db
from ..formatting import number, when
from ..vocab import TRIGGER_KINDS
from . import friendly_errors, parse_datetime, shopcrm_group


@shopcrm_group.group("triggers")
def triggers_group():
    """Automatic campaigns: after each run, abandoned cart, browse abandonment, win-back."""


def _left_out(suppressed: dict) -> str:
    total = sum(suppressed.values())
    reasons = ", ".join(f"{reason.replace('_', ' ')} {number(n)}" for reason, n in sorted(suppressed.items()))
    return f"{number(total)}" + (f" ({reasons})" if reasons else "")


@triggers_group.command("run", short_help="Evaluate the enabled triggers and queue their e-mails.")
@click.option("--now", "now_text", help="Evaluate as if it were this shop-local time (default: now).")
@click.option("--only", type=click.Choice(TRIGGER_KINDS),
              help="Evaluate this trigger only, even if it is disabled.")
@friendly_errors
def triggers_run_command(now_text, only):
    """Evaluate the enabled triggers and queue their messages (run it from cron; `send` delivers).
    A trigger whose settings cannot be used is skipped with the reason; the others still run."""
    from ..campaigns.triggers import run_triggers

    reports = run_triggers(now=parse_datetime(now_text), only=only)
    if not reports:
        click.echo("no trigger is enabled; enable one with `flask shopcrm triggers set KIND --enable`")
    for kind, report in reports.items():
        click.echo(f"{kind}: {report['note']}; candidates {number(report['audience'])}, queued "
                   f"{number(report['queued'])}, already queued {number(report['already_queued'])}, "
                   f"left out {_left_out(report['suppressed'] or {})}")


@triggers_group.command("list", short_help="Every trigger: on or off, its settings, its e-mail.")
@friendly_errors
def triggers_list_command():
    """Every trigger: whether it is on, what it does, its settings in words, its coupon and the
    campaign holding its e-mail (edit it in the panel, or see `campaign show ID`)."""
    from ..campaigns.triggers import HELP, TITLES, describe_params, ensure_triggers

    for trigger in ensure_triggers():
        state = "enabled " if trigger.enabled else "disabled"
        click.echo(f"{trigger.kind:<19} {state} {TITLES[trigger.kind]} (e-mail: campaign #{trigger.campaign_id}, "
                   f"coupon {trigger.campaign.coupon or 'none'})")
        click.echo(f"    {HELP[trigger.kind]}")
        for line in describe_params(trigger.kind, trigger.params or {}):
            click.echo(f"    {line}")
        if trigger.last_report:
            click.echo(f"    last run {when(trigger.last_evaluated_at)}: queued "
                       f"{number(trigger.last_report.get('queued', 0))} ({trigger.last_report.get('note', '')})")


@triggers_group.command("set", short_help="Enable, disable or configure a trigger.")
@click.argument("kind", type=click.Choice(TRIGGER_KINDS))
@click.option("--enable/--disable", default=None)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help='A parameter, e.g. hours=6 or target={"value_types":["new"]} (repeatable).')
@click.option("--coupon", help="Coupon code shown in this trigger's emails (empty to remove).")
@friendly_errors
def triggers_set_command(kind, enable, params, coupon):
    """Enable, disable or configure a trigger."""
    from ..campaigns.triggers import configure, describe_params

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
    click.echo(f"{kind}: {'enabled' if trigger.enabled else 'disabled'}")
    for line in describe_params(kind, trigger.params or {}):
        click.echo(f"    {line}")
