"""What a new user hit on a purchase-only shop (no views, no carts, one category, no brands):
the run says what it could not do as asked and records what ran; every window shares one edge
rule; data that stops years ago gets the newest order's date and an --as-of to use."""
import re
from datetime import datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from shopcrm import demo
from shopcrm.demo.generator import DemoShop
from shopcrm.extensions import db
from shopcrm.models import Insight, Membership, Run
from tests.support.apps import DEMO_NOW, logged_in

VALID = ("complete", "processing")  # the generic preset's valid order statuses


def purchase_only(shop: DemoShop, category: str = "Books") -> DemoShop:
    t = {name: dict(cols) for name, cols in shop.tables.items()}
    cats = t["categories"]
    keep = np.asarray(cats["name"]) == category
    category_id = cats["category_id"][keep][0]
    t["categories"] = {col: values[keep] for col, values in cats.items()}
    n = len(t["products"]["product_id"])
    t["products"]["category_id"] = np.full(n, category_id, dtype=object)
    t["products"]["brand_id"] = np.full(n, None, dtype=object)
    for empty in ("brands", "product_views", "cart_items"):
        t[empty] = {col: values[:0] for col, values in t[empty].items()}
    return DemoShop(now=shop.now, tables=t, persona=shop.persona, tier=shop.tier)


@pytest.fixture(scope="module")
def purchase_shop_file(tmp_path_factory, demo_shop):
    path = tmp_path_factory.mktemp("purchase_only") / "shop.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    demo.write(engine, purchase_only(demo_shop))
    engine.dispose()
    return path


@pytest.fixture
def purchase_app(make_app, purchase_shop_file):
    return make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{purchase_shop_file}")


def segment(app, *options):
    result = app.test_cli_runner().invoke(args=["shopcrm", "segment", "--quiet", *options])
    return result


def test_one_category_a_fixed_k_and_no_brands_are_said_and_recorded(purchase_app):
    result = segment(purchase_app, "--as-of", "2026-11-01", "--k", "3", "--level", "brand")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "note: Segments by brand were asked for, but no product of the shop has a brand: the segments are by " \
           "category." in out
    assert "note: All the customers' activity is in one category (Books), so their interests cannot tell them " \
           "apart: there is one interest segment." in out
    assert "note: 3 segments were asked for, but the customers' interests form only 1 distinct group(s), so the " \
           "run made 1." in out
    with purchase_app.app_context():
        run = Run.current()
        assert len(run.segments) == 1
        assert run.params["level"] == "category" and run.params["n_clusters"] == 1  # what ran ...
        assert run.params["asked"] == {"level": "brand", "n_clusters": 3}  # ... and what was asked
        assert run.quality["ran"] == {"level": "category", "segments": 1} and len(run.quality["notes"]) == 3
        assert Insight.of(run.id, "model")["level"] == "category"
        noted_run = run.id
    # the run's page says the same to whoever looks at it in the panel
    page = logged_in(purchase_app).get(f"/crm/admin/runs/{noted_run}").get_data(as_text=True)
    assert "one category (Books)" in page and "only 1 distinct group(s)" in page
    plain = segment(purchase_app, "--as-of", "2026-11-01")
    assert plain.exit_code == 0 and plain.output.count("note: ") == 1 and "one category (Books)" in plain.output
    with purchase_app.app_context():
        run = Run.current()
        assert "asked" not in run.params and run.params["level"] == "category"


def test_a_shop_with_categories_and_brands_runs_without_notes(make_app):
    app = make_app()
    result = segment(app, "--as-of", "2026-11-01", "--level", "brand")
    assert result.exit_code == 0 and "note: " not in result.output
    with app.app_context():
        assert Run.current().params["level"] == "brand" and Run.current().quality["notes"] == []


def _one_order_customer(shop: DemoShop) -> tuple[int, datetime]:
    o = shop.tables["orders"]
    valid = np.isin(o["status"], VALID)
    customers, counts = np.unique(o["customer_id"][valid].astype(np.int64), return_counts=True)
    placed = {int(c): p for c, p, ok in zip(o["customer_id"], o["placed_at"], valid) if ok}
    candidates = sorted((placed[int(c)], int(c)) for c in customers[counts == 1]
                        if DEMO_NOW - timedelta(days=200) > datetime.fromisoformat(placed[int(c)]))
    when, customer = candidates[len(candidates) // 2]
    return customer, datetime.fromisoformat(when)


def test_every_window_shares_one_edge(purchase_app, demo_shop):
    """An order exactly 365 days old is outside the interests and outside the value window: no
    customer gets a value-window order without a segment, none is half in (the issue: 104
    customers had a value type from the window but no segment)."""
    customer, placed = _one_order_customer(demo_shop)
    for as_of, inside in ((placed + timedelta(days=365), False), (placed + timedelta(days=365, seconds=-1), True)):
        result = segment(purchase_app, "--as-of", as_of.isoformat())
        assert result.exit_code == 0, result.output
        with purchase_app.app_context():
            rows = db.session.scalars(sa.select(Membership).where(Membership.run_id == Run.current().id)).all()
        row = next(r for r in rows if r.customer_id == customer)
        assert (row.frequency == 1) is inside and (row.segment_id is not None) is inside, (as_of, row.frequency)
        assert row.recency_days == pytest.approx(365.0, abs=2e-5)  # a buyer either way
        # On a purchase-only shop interests come from the same orders as the value window.
        mismatched = [r.customer_id for r in rows if (r.frequency > 0) != (r.segment_id is not None)]
        assert mismatched == []


def test_data_that_stops_years_ago_gets_the_newest_orders_date_and_an_as_of(purchase_app, demo_shop):
    result = segment(purchase_app, "--as-of", "2031-06-01")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "only 0 customer(s) have browsing, cart or order activity in the 365 days before 2031-06-01" in result.output
    match = re.search(r"the newest was placed on (\d{4}-\d\d-\d\d): to analyse the shop as it was then, run "
                      r"`flask shopcrm segment --as-of (\d{4}-\d\d-\d\d)`", result.output)
    assert match, result.output
    newest, suggested = (datetime.fromisoformat(d) for d in match.groups())
    o = demo_shop.tables["orders"]
    known = set(demo_shop.tables["customers"]["customer_id"][demo_shop.tables["customers"]["active"] == 1].tolist())
    placed = [datetime.fromisoformat(p) for p, s, c in zip(o["placed_at"], o["status"], o["customer_id"])
              if s in VALID and c in known and datetime.fromisoformat(p) <= DEMO_NOW]
    assert newest.date() == max(placed).date()
    assert suggested == newest + timedelta(days=1)
    assert segment(purchase_app, "--as-of", match.group(2)).exit_code == 0  # the suggestion works
