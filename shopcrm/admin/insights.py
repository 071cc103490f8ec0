"""Insights: where customers are and where they came from, what sells and when, what is bought
together.

Everything here was computed by the run and stored with it (``crm_insight``, ``crm_rule``):
the page only reads and draws, in the owner's words (countries and sources by name, "bought
together" as how much more likely than usual).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template, request

from ..customers.figures import stored_documents
from ..extensions import db
from ..models import Rule, Run
from ..vocab import source_label
from . import bp, charts
from .auth import role_required
from .common import country_name, page_from_request

RULE_KINDS = {"product": "Bought together (products)", "category": "Bought together (categories)",
              "sequence": "Bought later (products)"}
RULES_PAGE = 25
GROUP_TOP = 12


DOCUMENTS = ("groups", "names", "sales_per_month", "visitors_per_month", "transactions_per_customer",
             "customers_per_product", "best_month", "best_calendar_month")


def rule_total(run: Run, kind: str) -> int:
    """How many rules of ``kind`` the run stored: its counts say (written with the rules, in the
    same transaction); a run stored before they did is counted."""
    stored = (run.counts or {}).get("rules", {})
    if isinstance(stored, dict) and isinstance(stored.get(kind), int):
        return stored[kind]
    return db.session.scalar(sa.select(sa.func.count()).select_from(Rule).where(Rule.run_id == run.id,
                                                                                 Rule.kind == kind))


def _label(kind: str, key: list) -> str:
    parts = [str(k) for k in key if k]
    if not parts or parts[0] in ("(unknown)", "(other)"):
        return {"(other)": "other"}.get(parts[0] if parts else "", "unknown")
    if kind == "source":
        return source_label(parts[0])
    if kind in ("country", "region", "city"):
        parts[0] = country_name(parts[0])
        named = []
        for part in reversed(parts):  # city, region, country; "Berlin, Berlin" once
            if not named or named[-1] != part:
                named.append(part)
        return ", ".join(named)
    return ", ".join(parts)


def group_rows(groups: dict, kind: str) -> list[dict]:
    rows = groups.get(kind) or []
    return [{**row, "label": _label(kind, row["key"])} for row in rows]


def pie_of(rows: list[dict], field: str = "customers", top: int = GROUP_TOP):
    """A pie of the largest groups, the rest summed as "other"."""
    ordered = sorted(rows, key=lambda r: -r[field])
    items = [(r["label"], r[field]) for r in ordered[:top]]
    rest = sum(r[field] for r in ordered[top:])
    if rest:
        items.append(("other", rest, charts.OTHER_COLOR))
    return charts.pie(items)


def name_of(names: dict, kind: str, ident) -> str:
    return (names.get(kind + "s") or {}).get(str(ident)) or f"{kind} #{ident}"


@bp.route("/insights")
@role_required("marketer", "viewer")
def insights():
    run = Run.current()
    docs = stored_documents(run, DOCUMENTS) if run is not None else {}
    groups = docs.get("groups") or {}
    names = docs.get("names") or {}
    kind = request.args.get("kind") if request.args.get("kind") in RULE_KINDS else "product"
    rules, page = [], None
    if run is not None:
        page = page_from_request(rule_total(run, kind), RULES_PAGE)
        # strongest first; ties by id, newest first, so the whole order is one backward range of ix_crm_rule_rank
        rules = db.session.scalars(sa.select(Rule).where(Rule.run_id == run.id, Rule.kind == kind)
                                   .order_by(Rule.confidence.desc(), Rule.lift.desc(), Rule.id.desc())
                                   .limit(page.size).offset(page.offset)).all()
    rule_kind = "category" if kind == "category" else "product"
    sales = (docs.get("sales_per_month") or [])[-13:]
    visitors = (docs.get("visitors_per_month") or [])[-13:]
    per_customer = docs.get("transactions_per_customer") or []
    per_product = (docs.get("customers_per_product") or [])[:15]
    locations = {k: group_rows(groups, k) for k in ("country", "region", "city", "source")}
    best_calendar_month = docs.get("best_calendar_month")
    return render_template(
        "admin/insights.html", run=run, locations=locations, group_top=GROUP_TOP,
        country_pie=pie_of(locations["country"]), source_pie=pie_of(locations["source"]),
        revenue_pie=pie_of(locations["country"], "revenue"),
        rules=rules, page=page, kind=kind, kinds=RULE_KINDS,
        rule_name=lambda ident: name_of(names, rule_kind, ident),
        items_chart=charts.line(sales, "items", "products sold"), sales=sales,
        visitors_chart=charts.line(visitors, "visitors", "customers who looked at products"), visitors=visitors,
        per_customer=per_customer,
        per_customer_chart=charts.columns([(r["orders"], r["customers"]) for r in per_customer], "customers"),
        per_product_chart=charts.hbars([{"label": name_of(names, "product", r["product_id"]), "value": r["customers"],
                                         "color": charts.PALETTE[0]} for r in per_product]),
        best_month=docs.get("best_month"), best_calendar_month=best_calendar_month)
