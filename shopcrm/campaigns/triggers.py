"""Triggers: automatic campaigns evaluated by ``flask shopcrm triggers run`` (cron).

* ``run_offer`` — after each segmentation run, once per run, an offer to a target (default:
  the potential profitable of seed 004). Segments are named by ``segment_names``, since
  segment ids change with every run.
* ``abandoned_cart`` — cart lines older than ``hours`` (and younger than ``max_age_days``),
  no order since the cart was started; at most one reminder per cart (the dedupe key is the
  cart's start time) and per customer within ``window_days``.
* ``browse_abandonment`` — a product viewed at least ``min_views`` times within
  ``lookback_hours``, last view at least ``quiet_hours`` ago, not in the cart, never bought,
  no order within ``recent_order_days``; one per customer within ``window_days``.
* ``win_back`` — customers the current run marks at risk of churning (seed 003), who have not
  ordered since that run; one per customer within ``window_days``.

Every triggered message carries ``stop_if_ordered_since``: the sender checks the shop again
right before sending and cancels it ("bought meanwhile") if the customer ordered since.
Configuration lives in ``crm_trigger`` so the admin can edit it; every trigger starts disabled.
Times compared with shop data are the shop's clock (naive local time).
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Callable

import sqlalchemy as sa
from flask import current_app

from ..clock import shop_now, utcnow
from ..dbutil import keyset_chunks
from ..errors import CampaignError, ShopCRMError
from ..extensions import db
from ..locks import job_lock
from ..models import Membership, Message, Run, Trigger
from ..shop import connect_shop, current_mapping
from ..shop import queries as shopq
from ..shop.activity import abandoned_carts, cart_lines, latest_orders, repeated_views
from ..vocab import LIVE_MESSAGE_STATES, TRIGGER_KINDS
from .outbox import CHUNK, Candidate, EnqueueReport
from .recommend import sellable
from .service import create_campaign
from .sms_outbox import make_writer
from .targets import audience_filter, check_target, default_offer_target

LOCK_NAME = "triggers"
DEFAULT_PARAMS: dict[str, dict] = {
    "run_offer": {"target": default_offer_target()},
    "abandoned_cart": {"hours": 4, "max_age_days": 7, "window_days": 7},
    "browse_abandonment": {"min_views": 2, "lookback_hours": 72, "quiet_hours": 2, "recent_order_days": 10,
                           "window_days": 14},
    "win_back": {"target": {"churn_risk": True}, "window_days": 60},
}
TITLES = {"run_offer": "Offer after each segmentation run", "abandoned_cart": "Abandoned cart reminder",
          "browse_abandonment": "Browse abandonment reminder", "win_back": "Win-back"}
#: What each parameter means, in the shop owner's words (the triggers page and ``triggers list``).
PARAM_LABELS = {
    "hours": "hours after the last cart change", "max_age_days": "ignore carts older than (days)",
    "window_days": "at most one email per customer every (days)", "min_views": "views of the same product",
    "lookback_hours": "look at views of the last (hours)", "quiet_hours": "wait after the last view (hours)",
    "recent_order_days": "skip customers who ordered in the last (days)",
}
#: What each trigger does, in one sentence.
HELP = {
    "run_offer": "After each segmentation run, one offer to the chosen customers (once per run).",
    "abandoned_cart": "Cart lines older than the given hours and no order since: one reminder per cart.",
    "browse_abandonment": "A product viewed repeatedly, not carted, not bought, no recent order: one reminder.",
    "win_back": "Customers at risk of leaving: one win-back e-mail per window.",
}
NUMBER_LIMITS = {  # parameter: (minimum, maximum, whole number?) — a maximum keeps dates computable and sensible
    "hours": (0.25, 720, False), "max_age_days": (1, 365, True), "window_days": (1, 365, True),
    "min_views": (2, 1000, True), "lookback_hours": (1, 2160, False), "quiet_hours": (0, 720, False),
    "recent_order_days": (0, 365, True),
}


# --- configuration -----------------------------------------------------------------------------------

def ensure_triggers() -> list[Trigger]:
    """Every trigger kind with its campaign (the template it renders), created on first use,
    disabled. Commits when it creates something.

    Several requests may open the triggers page for the first time at once (the admin
    benchmark's eight clients do). Racing inserts into the unique key made some of them fail
    even after retries on MariaDB (duplicate keys and deadlocks, round after round), so the
    creation is serialised by a lease in ``crm_lock``: whoever holds it reads again — in a
    fresh transaction, to see what the previous holder committed — and creates what is
    still missing."""
    existing = _triggers_by_kind()
    if all(kind in existing for kind in TRIGGER_KINDS):
        return [existing[k] for k in TRIGGER_KINDS]
    db.session.commit()  # end the read: the next one must see rows committed meanwhile
    with job_lock("setup:triggers", ttl=30, wait=15, poll=0.05):
        existing = _triggers_by_kind()
        for kind in TRIGGER_KINDS:
            if kind in existing:
                continue
            target = DEFAULT_PARAMS[kind].get("target") or {}
            campaign = create_campaign(TITLES[kind], target, template=kind, kind=kind, created_by="shopcrm")
            db.session.flush()
            existing[kind] = Trigger(kind=kind, enabled=False, params=dict(DEFAULT_PARAMS[kind]),
                                     campaign_id=campaign.id, state={})
            db.session.add(existing[kind])
        db.session.commit()
    return [existing[k] for k in TRIGGER_KINDS]


def _triggers_by_kind() -> dict[str, Trigger]:
    return {t.kind: t for t in db.session.scalars(sa.select(Trigger))}


def get_trigger(kind: str) -> Trigger:
    if kind not in TRIGGER_KINDS:
        raise CampaignError(f"unknown trigger {kind!r}; known: {', '.join(TRIGGER_KINDS)}")
    return next(t for t in ensure_triggers() if t.kind == kind)


def _number(kind: str, key: str, value: Any) -> int | float:
    """One numeric parameter, refused with a message naming it unless it is a finite number in its range."""
    minimum, maximum, whole = NUMBER_LIMITS[key]
    label = f"trigger {kind}: {PARAM_LABELS[key]} ({key})"
    wanted = f"a {'whole ' if whole else ''}number from {minimum:g} to {maximum:g}"
    if isinstance(value, bool):
        raise CampaignError(f"{label} must be {wanted}, not {value!r}")
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        raise CampaignError(f"{label} must be {wanted}, not {value!r}") from None
    if not math.isfinite(number) or not minimum <= number <= maximum or (whole and number != int(number)):
        raise CampaignError(f"{label} must be {wanted}, not {value!r}")
    return int(number) if whole else number


def check_params(kind: str, params: dict) -> dict:
    """Validate a trigger's parameters; unknown keys, values that are not finite numbers (NaN,
    Infinity) and values outside a sensible range (1e308 days) are refused with a message that
    names the parameter."""
    allowed = set(DEFAULT_PARAMS[kind])
    unknown = set(params) - allowed
    if unknown:
        raise CampaignError(f"trigger {kind}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(sorted(allowed))}")
    clean = {**DEFAULT_PARAMS[kind], **params}
    for key, value in clean.items():
        if key == "target":
            if not isinstance(value, dict):
                raise CampaignError(f"trigger {kind}: target must look like {{\"value_types\": [\"new\"]}}")
            target = check_target(value)
            if "segment_ids" in target or "run_id" in target:
                raise CampaignError(f"trigger {kind}: segment ids change with every run; "
                                    "use segment_names to choose segments")
            clean[key] = target
            continue
        clean[key] = _number(kind, key, value)
    if kind == "browse_abandonment" and clean["quiet_hours"] >= clean["lookback_hours"]:
        raise CampaignError("trigger browse_abandonment: quiet_hours must be shorter than lookback_hours")
    if kind == "abandoned_cart" and clean["hours"] >= clean["max_age_days"] * 24:
        raise CampaignError("trigger abandoned_cart: hours (after the last cart change) must be shorter than "
                            "max_age_days (older carts are ignored)")
    return clean


def describe_params(kind: str, params: dict) -> list[str]:
    """A trigger's parameters in words, one per line (the target described like a campaign's)."""
    from .targets import describe

    lines = [f"{PARAM_LABELS.get(key, key)}: {value:g}" if isinstance(value, (int, float)) else f"{key}: {value}"
             for key, value in (params or {}).items() if key != "target"]
    if "target" in (params or {}):
        lines.insert(0, f"for: {describe(params['target'])}")
    return lines


def configure(kind: str, enabled: bool | None = None, params: dict | None = None,
              coupon: str | None = None) -> Trigger:
    """Change a trigger (the admin's form, the CLI). Not committed."""
    trigger = get_trigger(kind)
    if params is not None:
        trigger.params = check_params(kind, {**(trigger.params or {}), **params})
    if coupon is not None:
        trigger.campaign.coupon = coupon.strip()[:64] or None
    if enabled is not None and enabled != trigger.enabled:
        trigger.enabled = enabled
        trigger.enabled_at = utcnow() if enabled else trigger.enabled_at
    trigger.updated_at = utcnow()
    return trigger


# --- evaluation --------------------------------------------------------------------------------------

def run_triggers(now: datetime | None = None, only: str | None = None) -> dict[str, dict]:
    """Evaluate every enabled trigger (or ``only`` one, enabled or not) and queue what is due.

    ``now`` is the shop's clock (default: the local time). Holds the ``triggers`` lock, so two
    cron runs never overlap. Returns a report per trigger.
    """
    now = (now or shop_now()).replace(microsecond=0)
    reports: dict[str, dict] = {}
    triggers = ensure_triggers()
    with job_lock(LOCK_NAME, ttl=current_app.config["SHOPCRM_LOCK_TTL_SECONDS"]) as lease:
        for trigger in triggers:
            if (only and trigger.kind != only) or (not only and not trigger.enabled):
                continue
            try:  # parameters stored by an older version may be unusable: that trigger waits, the others run
                trigger.params = check_params(trigger.kind, dict(trigger.params or {}))
                report, note = EVALUATORS[trigger.kind](trigger, now, lease)
            except ShopCRMError as exc:
                db.session.rollback()
                report, note = EnqueueReport(), f"not run: {exc}"
            trigger.last_evaluated_at = utcnow()
            trigger.last_report = {**report.as_dict(), "note": note}
            db.session.commit()
            reports[trigger.kind] = trigger.last_report
    return reports


def _window_start(trigger: Trigger) -> datetime:
    return utcnow() - timedelta(days=trigger.params["window_days"])


def _recently_mailed(trigger: Trigger, customer_ids: list[int]) -> set[int]:
    """Customers this trigger already has a live message for within its window."""
    if not customer_ids:
        return set()
    return set(db.session.scalars(sa.select(Message.customer_id).where(
        Message.campaign_id == trigger.campaign_id, Message.customer_id.in_(customer_ids),
        Message.state.in_(LIVE_MESSAGE_STATES), Message.created_at >= _window_start(trigger))))


def _interests(run: Run | None, customer_ids: list[int]) -> dict[int, tuple[int | None, tuple[int, ...]]]:
    """Segment and top categories from the current run, for recommendations."""
    if run is None or not customer_ids:
        return {}
    rows = db.session.execute(sa.select(Membership.customer_id, Membership.segment_id, Membership.top_categories)
                              .where(Membership.run_id == run.id, Membership.customer_id.in_(customer_ids)))
    return {int(cid): (seg, tuple(int(x) for x in (top or "").split(",") if x)) for cid, seg, top in rows}


def _period(now: datetime, days: int) -> int:
    """Which ``days``-long period ``now`` falls in: part of a dedupe key that repeats per window."""
    return (now - datetime(2000, 1, 1)).days // days


def _run_offer(trigger: Trigger, now: datetime, lease) -> tuple[EnqueueReport, str]:
    report = EnqueueReport()
    run = Run.current()
    state = dict(trigger.state or {})
    if run is None:
        return report, "no segmentation run yet"
    if state.get("last_run_id") == run.id:
        return report, f"offers for run #{run.id} were already queued"
    if trigger.enabled_at and run.finished_at and run.finished_at < trigger.enabled_at:
        trigger.state = {**state, "last_run_id": run.id}
        return report, f"run #{run.id} finished before the trigger was enabled; waiting for the next run"
    target = check_target({**trigger.params["target"], "run_id": run.id})
    with connect_shop() as shop:
        writer = make_writer(trigger.campaign, shop, run, as_of=now)
        _members_in_chunks(target, run, lambda members: writer.write([
            Candidate(int(m.customer_id), dedupe_key=f"run:{run.id}", segment_id=m.segment_id,
                      top_categories=tuple(int(x) for x in (m.top_categories or "").split(",") if x))
            for m in members]), lease)
    trigger.state = {**state, "last_run_id": run.id}
    return writer.report, f"offers for run #{run.id}"


def _members_in_chunks(target: dict, run: Run, handle: Callable[[list], None], lease,
                       filter_chunk: Callable[[list], list] | None = None) -> None:
    query = (sa.select(Membership.customer_id, Membership.segment_id, Membership.top_categories)
             .where(*audience_filter(target, run)))
    for members in keyset_chunks(db.session, query, Membership.customer_id, CHUNK):
        chosen = filter_chunk(members) if filter_chunk else members
        if chosen:
            handle(chosen)
        lease.renew()


def _abandoned_cart(trigger: Trigger, now: datetime, lease) -> tuple[EnqueueReport, str]:
    params, mapping = trigger.params, current_mapping()
    if not mapping.has("cart_item"):
        return EnqueueReport(), "the shop mapping has no cart data"
    oldest, newest = now - timedelta(days=params["max_age_days"]), now - timedelta(hours=params["hours"])
    run = Run.current()
    with connect_shop() as shop:
        writer = make_writer(trigger.campaign, shop, run, as_of=now, address_window=timedelta(days=params["window_days"]))
        after = None
        while True:
            carts = abandoned_carts(shop, mapping, oldest, newest, after, CHUNK)
            if not carts:
                break
            after = carts[-1].customer_id
            ids = [c.customer_id for c in carts]
            skip = _recently_mailed(trigger, ids)
            lines = cart_lines(shop, mapping, ids, since=oldest)
            products = shopq.products_by_ids(shop, mapping, {line["product_id"] for ls in lines.values() for line in ls})
            interests = _interests(run, ids)
            candidates = []
            for cart in carts:
                items: dict[int, int] = {}
                for line in lines.get(cart.customer_id, []):
                    pid = int(line["product_id"])
                    if sellable(products.get(pid)):
                        items[pid] = items.get(pid, 0) + int(line["quantity"] or 1)
                if cart.customer_id in skip or not items:
                    continue
                segment_id, top = interests.get(cart.customer_id, (None, ()))
                candidates.append(Candidate(cart.customer_id, dedupe_key=f"cart:{cart.started:%Y%m%d%H%M%S}",
                                            segment_id=segment_id, top_categories=top, cart=tuple(items.items()),
                                            stop_if_ordered_since=cart.started))
            if candidates:
                writer.write(candidates)
            lease.renew()
    return writer.report, f"carts idle since before {newest:%Y-%m-%d %H:%M}"


def _browse_abandonment(trigger: Trigger, now: datetime, lease) -> tuple[EnqueueReport, str]:
    params, mapping = trigger.params, current_mapping()
    if not (mapping.has("view") or mapping.reads_crm("view")):
        return EnqueueReport(), "the shop mapping has no browsing data (and the view beacon is not read)"
    since, until = now - timedelta(hours=params["lookback_hours"]), now - timedelta(hours=params["quiet_hours"])
    run = Run.current()
    period = _period(now, params["window_days"])
    with connect_shop() as shop:
        writer = make_writer(trigger.campaign, shop, run, as_of=now, address_window=timedelta(days=params["window_days"]))
        after = None
        while True:
            views, after = repeated_views(shop, mapping, since, until, params["min_views"], after, CHUNK)
            if after is None:
                break
            ids = sorted({v.customer_id for v in views})
            skip = _recently_mailed(trigger, ids)
            skip |= set(latest_orders(shop, mapping, ids, since=now - timedelta(days=params["recent_order_days"])))
            bought = shopq.purchased_products(shop, mapping, ids)
            in_cart = {cid: {int(line["product_id"]) for line in ls} for cid, ls in cart_lines(shop, mapping, ids).items()}
            products = shopq.products_by_ids(shop, mapping, {v.product_id for v in views})
            interests = _interests(run, ids)
            best: dict[int, Any] = {}
            for v in views:
                if (v.customer_id in skip or v.product_id in bought.get(v.customer_id, ())
                        or v.product_id in in_cart.get(v.customer_id, ()) or not sellable(products.get(v.product_id))):
                    continue
                current = best.get(v.customer_id)
                if current is None or (v.views, v.last_view, -v.product_id) > (current.views, current.last_view,
                                                                                -current.product_id):
                    best[v.customer_id] = v
            candidates = []
            for cid, v in sorted(best.items()):
                segment_id, top = interests.get(cid, (None, ()))
                candidates.append(Candidate(cid, dedupe_key=f"browse:{v.product_id}:{period}", segment_id=segment_id,
                                            top_categories=top, viewed=v.product_id,
                                            stop_if_ordered_since=v.first_view))
            if candidates:
                writer.write(candidates)
            lease.renew()
    return writer.report, f"views since {since:%Y-%m-%d %H:%M}"


def _win_back(trigger: Trigger, now: datetime, lease) -> tuple[EnqueueReport, str]:
    run = Run.current()
    if run is None:
        return EnqueueReport(), "no segmentation run yet"
    params = trigger.params
    target = check_target({**params["target"], "run_id": run.id})
    period = _period(now, params["window_days"])
    since_run = run.as_of or now
    with connect_shop() as shop:
        writer = make_writer(trigger.campaign, shop, run, as_of=now)

        def still_away(members: list) -> list:
            ids = [int(m.customer_id) for m in members]
            back = set(latest_orders(shop, current_mapping(), ids, since=since_run)) | _recently_mailed(trigger, ids)
            return [m for m in members if int(m.customer_id) not in back]

        _members_in_chunks(target, run, lambda members: writer.write([
            Candidate(int(m.customer_id), dedupe_key=f"winback:{period}", segment_id=m.segment_id,
                      top_categories=tuple(int(x) for x in (m.top_categories or "").split(",") if x),
                      stop_if_ordered_since=now)
            for m in members]), lease, filter_chunk=still_away)
    return writer.report, f"customers at risk in run #{run.id}"


EVALUATORS: dict[str, Callable[[Trigger, datetime, Any], tuple[EnqueueReport, str]]] = {
    "run_offer": _run_offer, "abandoned_cart": _abandoned_cart, "browse_abandonment": _browse_abandonment,
    "win_back": _win_back,
}
