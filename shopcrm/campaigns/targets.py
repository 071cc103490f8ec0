"""Who a campaign is for: a filter over the stored results of one segmentation run.

A target is a small JSON document, stored with the campaign, so the admin can edit it and the
audience can be counted before launch::

    {"segment_ids": [3, 5]}                       interest segments of one run
    {"segment_names": ["Runners"]}                segments by name, in whichever run is used
    {"value_types": ["high_value", "new"]}        seed 004 types
    {"rfm": {"r": [4, 5], "m": [3, 5]}}           RFM score ranges (1..5, 5 best)
    {"churn_risk": true, "min_churn_score": 0.6}  seed 003 churn figures
    {"actions": ["reactivation"]}                 seed 003 recommended action
    {"countries": ["DE"], "regions": [...], "cities": [...], "sources": ["newsletter"]}
    {"run_id": 12}                                pin a run (default: the segments' run, else the current one)
    {"predicted_top_percent": 10}                 the run's predicted best customers: its top 10 % of buyers by
                                                  expected value (or RFM, where the run's backtest preferred it;
                                                  segmentation.ranking)

Keys combine with AND; values inside one key with OR. Everything is read from ``crm_membership``
through its indexes, never from the shop.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..errors import CampaignError
from ..extensions import db
from ..models import Membership, Run, Segment
from ..segmentation.ranking import predicted_top
from ..vocab import ACTION_LABELS, ACTIONS, POTENTIAL_PROFITABLE, RFM_LABELS, VALUE_TYPE_LABELS, VALUE_TYPES

LIST_KEYS = {"countries": Membership.country, "regions": Membership.region, "cities": Membership.city,
             "sources": Membership.source}
RFM_COLUMNS = {"r": Membership.rfm_r, "f": Membership.rfm_f, "m": Membership.rfm_m}
KNOWN_KEYS = {"run_id", "segment_ids", "segment_id", "segment_names", "value_types", "rfm", "churn_risk",
              "min_churn_score", "actions", *LIST_KEYS}
KNOWN_KEYS.add("predicted_top_percent")


def default_offer_target() -> dict:
    """Seed 004: offers go to the potential profitable (high value, most growth, new)."""
    return {"value_types": list(POTENTIAL_PROFITABLE)}


def _strings(value: Any, key: str, limit: int = 64) -> list[str]:
    values = value if isinstance(value, (list, tuple)) else [value]
    clean = sorted({str(v).strip() for v in values if v is not None and str(v).strip()})
    if not clean:
        raise CampaignError(f"target '{key}' needs at least one value")
    if any(len(v) > limit for v in clean):
        raise CampaignError(f"target '{key}': values are at most {limit} characters")
    return clean


def _ids(value: Any, key: str) -> list[int]:
    values = value if isinstance(value, (list, tuple)) else [value]
    try:
        return sorted({int(v) for v in values if v is not None and str(v).strip() != ""})
    except (TypeError, ValueError):
        raise CampaignError(f"target '{key}' must hold whole numbers") from None


def check_target(target: dict | None) -> dict:
    """Validate and normalise a target; a :class:`CampaignError` says what is wrong."""
    if not isinstance(target, dict):
        raise CampaignError("a campaign needs a target")
    target = {k: v for k, v in target.items() if v not in (None, "", [], {})}
    unknown = set(target) - KNOWN_KEYS
    if unknown:
        raise CampaignError(f"unknown target key(s): {', '.join(sorted(unknown))}")
    clean: dict = {}
    segment_ids = _ids(target.get("segment_ids", []), "segment_ids") + _ids(target.get("segment_id", []), "segment_id")
    if segment_ids:
        segments = db.session.scalars(sa.select(Segment).where(Segment.id.in_(segment_ids))).all()
        missing = set(segment_ids) - {s.id for s in segments}
        if missing:
            raise CampaignError(f"segment {', '.join(map(str, sorted(missing)))} does not exist "
                                "(it may belong to a pruned run)")
        if len({s.run_id for s in segments}) > 1:
            raise CampaignError("the chosen segments belong to different runs; choose segments of one run")
        clean["segment_ids"] = sorted(set(segment_ids))
    if "segment_names" in target:
        clean["segment_names"] = _strings(target["segment_names"], "segment_names", 255)
    if "run_id" in target:
        run = db.session.get(Run, _ids(target["run_id"], "run_id")[0])
        if run is None or run.status != "succeeded":
            raise CampaignError(f"run {target['run_id']} does not exist or did not succeed")
        if segment_ids and any(s.run_id != run.id for s in segments):
            raise CampaignError("the chosen segments do not belong to the chosen run")
        clean["run_id"] = run.id
    if "value_types" in target:
        values = _strings(target["value_types"], "value_types")
        unknown = set(values) - set(VALUE_TYPES)
        if unknown:
            raise CampaignError(f"unknown value type(s): {', '.join(sorted(unknown))}; known: {', '.join(VALUE_TYPES)}")
        clean["value_types"] = values
    if "rfm" in target:
        clean["rfm"] = _check_rfm(target["rfm"])
    if "churn_risk" in target:
        if not isinstance(target["churn_risk"], bool):
            raise CampaignError("target 'churn_risk' must be true or false")
        clean["churn_risk"] = target["churn_risk"]
    if "min_churn_score" in target:
        try:
            score = float(target["min_churn_score"])
        except (TypeError, ValueError):
            raise CampaignError("target 'min_churn_score' must be a number between 0 and 1") from None
        if not 0 <= score <= 1:
            raise CampaignError("target 'min_churn_score' must be between 0 and 1")
        clean["min_churn_score"] = score
    if "actions" in target:
        values = _strings(target["actions"], "actions")
        unknown = set(values) - set(ACTIONS)
        if unknown:
            raise CampaignError(f"unknown action(s): {', '.join(sorted(unknown))}; known: {', '.join(ACTIONS)}")
        clean["actions"] = values
    for key in LIST_KEYS:
        if key in target:
            clean[key] = _strings(target[key], key)
    if "predicted_top_percent" in target:
        clean["predicted_top_percent"] = _check_percent(target["predicted_top_percent"])
    if not clean or set(clean) == {"run_id"}:
        raise CampaignError("a campaign needs a target: segments, value types, RFM scores, churn risk, "
                            "actions, location or source")
    return clean


def _check_rfm(rfm: Any) -> dict:
    if not isinstance(rfm, dict) or not rfm:
        raise CampaignError("target 'rfm' must look like {\"r\": [4, 5], \"f\": [1, 5], \"m\": [3, 5]}")
    clean = {}
    for letter, bounds in rfm.items():
        if letter not in RFM_COLUMNS:
            raise CampaignError(f"target 'rfm': unknown score {letter!r} (use r, f, m)")
        try:
            low, high = (int(b) for b in bounds)
        except (TypeError, ValueError):
            raise CampaignError(f"target 'rfm.{letter}' must be a range like [4, 5]") from None
        if not 1 <= low <= high <= 5:
            raise CampaignError(f"target 'rfm.{letter}' must satisfy 1 ≤ low ≤ high ≤ 5")
        clean[letter] = [low, high]
    return clean


def _check_percent(value: Any) -> float:
    try:
        percent = float(value)
    except (TypeError, ValueError):
        raise CampaignError("target 'predicted_top_percent' must be a number of per cent, e.g. 10") from None
    if not 0 < percent <= 100:
        raise CampaignError("target 'predicted_top_percent' must be above 0 and at most 100 (per cent of the buyers)")
    return percent


def target_run(target: dict) -> Run:
    """The run a target reads: pinned, else its segments' run, else the current run."""
    if "run_id" in target:
        run = db.session.get(Run, target["run_id"])
        if run is None:
            raise CampaignError("the campaign's run no longer exists; choose a newer one")
        return run
    if target.get("segment_ids"):
        segment = db.session.get(Segment, target["segment_ids"][0])
        if segment is None:
            raise CampaignError("the campaign's segment no longer exists; choose a segment of the current run")
        return segment.run
    run = Run.current()
    if run is None:
        raise CampaignError("there is no segmentation run yet; run `flask shopcrm segment` first")
    return run


def audience_filter(target: dict, run: Run) -> list:
    """SQL conditions on ``Membership`` for this target in ``run``."""
    conditions = [Membership.run_id == run.id]
    if target.get("segment_ids"):
        conditions.append(Membership.segment_id.in_(target["segment_ids"]))
    if target.get("segment_names"):
        ids = sa.select(Segment.id).where(Segment.run_id == run.id, Segment.name.in_(target["segment_names"]))
        conditions.append(Membership.segment_id.in_(ids))
    if target.get("value_types"):
        conditions.append(Membership.value_type.in_(target["value_types"]))
    for letter, (low, high) in (target.get("rfm") or {}).items():
        conditions.append(RFM_COLUMNS[letter].between(low, high))
    if "churn_risk" in target:
        conditions.append(Membership.churn_risk.is_(sa.true()) if target["churn_risk"]
                          else Membership.churn_risk.is_(sa.false()))
    if "min_churn_score" in target:
        conditions.append(Membership.churn_score >= target["min_churn_score"])
    if target.get("actions"):
        conditions.append(Membership.action.in_(target["actions"]))
    for key, column in LIST_KEYS.items():
        if target.get(key):
            conditions.append(column.in_(target[key]))
    if target.get("predicted_top_percent"):
        conditions.append(predicted_top(run, float(target["predicted_top_percent"])))
    return conditions


def audience_count(target: dict) -> int:
    """How many customers of the run match; what the admin sees before launching."""
    target = check_target(target)
    run = target_run(target)
    return db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(*audience_filter(target, run)))


def describe(target: dict) -> str:
    """The target in the owner's words, for lists and confirmations."""
    parts = []
    if target.get("segment_ids"):
        names = db.session.scalars(sa.select(Segment.name).where(Segment.id.in_(target["segment_ids"]))).all()
        parts.append("segments " + ", ".join(names))
    if target.get("segment_names"):
        parts.append("segments named " + ", ".join(target["segment_names"]))
    if target.get("value_types"):
        parts.append(" or ".join(VALUE_TYPE_LABELS.get(t, t) for t in target["value_types"]) + " customers")
    for letter, (low, high) in (target.get("rfm") or {}).items():
        parts.append(f"{RFM_LABELS.get(letter, letter)} {low}–{high} of 5")
    if "churn_risk" in target:
        parts.append("at risk of leaving" if target["churn_risk"] else "not at risk of leaving")
    if "min_churn_score" in target:
        parts.append(f"risk of leaving ≥ {target['min_churn_score']:.2f}")
    if target.get("actions"):
        parts.append("to do: " + " or ".join(ACTION_LABELS.get(a, a).lower() for a in target["actions"]))
    for key in LIST_KEYS:
        if target.get(key):
            parts.append(f"{key} " + ", ".join(target[key]))
    if target.get("predicted_top_percent"):
        parts.append(f"predicted best {target['predicted_top_percent']:g} % of buyers")
    if "run_id" in target:
        parts.append(f"run #{target['run_id']}")
    return "; ".join(parts) or "nobody"
