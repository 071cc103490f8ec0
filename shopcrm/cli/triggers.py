"""Triggers: the automatic campaigns."""
from __future__ import annotations

import json

import click

from ..extensions import db
from ..vocab import TRIGGER_KINDS
from . import friendly_errors, parse_datetime, shopcrm_group


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
    from ..campaigns.triggers import run_triggers

    reports = run_triggers(now=parse_datetime(now_text), only=only)
    if not reports:
        click.echo("no trigger is enabled; enable one with `flask shopcrm triggers set KIND --enable`")
    for kind, report in reports.items():
        click.echo(f"{kind}: {report['note']}; candidates {report['audience']}, queued {report['queued']}, "
                   f"already queued {report['already_queued']}, suppressed {report['suppressed'] or 0}")


@triggers_group.command("list")
@friendly_errors
def triggers_list_command():
    """Every trigger: on or off, its campaign, coupon and parameters (all start disabled)."""
    from ..campaigns.triggers import ensure_triggers

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
    from ..campaigns.triggers import configure

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
