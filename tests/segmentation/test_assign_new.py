"""Customers who sign up after a run join its segments without a full run (`flask shopcrm assign-new`)."""
from collections import Counter
from datetime import timedelta

import numpy as np
import sqlalchemy as sa

from shopcrm import demo
from shopcrm.extensions import db
from shopcrm.models import Membership, Run, Segment
from shopcrm.segmentation.run import run_segmentation
from tests.support.apps import DEMO_NOW


def split_recent(shop: demo.DemoShop, days: int = 45):
    """The shop without the customers who signed up in the last ``days`` (and everything they
    did), and those customers' rows on their own."""
    t = shop.tables
    created = np.array(t["customers"]["created_at"], dtype="datetime64[s]")
    recent = set(t["customers"]["customer_id"][created > np.datetime64(DEMO_NOW - timedelta(days=days))].tolist())
    orders_of_recent = {o for o, c in zip(t["orders"]["order_id"], t["orders"]["customer_id"]) if c in recent}
    masks = {
        "customers": np.isin(t["customers"]["customer_id"], list(recent)),
        "product_views": np.array([c in recent for c in t["product_views"]["customer_id"]]),
        "cart_items": np.isin(t["cart_items"]["customer_id"], list(recent)),
        "orders": np.isin(t["orders"]["order_id"], list(orders_of_recent)),
        "order_lines": np.isin(t["order_lines"]["order_id"], list(orders_of_recent)),
    }
    before = {name: {col: (values[~masks[name]] if name in masks else values) for col, values in cols.items()}
              for name, cols in t.items()}
    later = {name: {col: values[mask] for col, values in t[name].items()} for name, mask in masks.items()}
    return demo.DemoShop(now=shop.now, tables=before, persona=shop.persona, tier=shop.tier), later, recent


def test_new_customers_join_the_segments_the_run_would_give_them(make_app, tmp_path, demo_shop):
    before, later, recent = split_recent(demo_shop)
    shop_url = f"sqlite:///{tmp_path / 'growing_shop.db'}"
    engine = sa.create_engine(shop_url)
    demo.write(engine, before)
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=shop_url)
    with app.app_context():
        run = run_segmentation(as_of=DEMO_NOW)
        known = db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(Membership.run_id == run.id))
    demo.append(engine, later)  # they sign up, browse and buy after the run
    engine.dispose()

    result = app.test_cli_runner().invoke(args=["shopcrm", "assign-new"])
    assert result.exit_code == 0, result.output
    active_recent = {c for c, a in zip(later["customers"]["customer_id"], later["customers"]["active"]) if a == 1}
    assert f"{len(active_recent)} new customer(s) placed" in result.output
    with app.app_context():
        run = Run.current()
        rows = db.session.scalars(sa.select(Membership).where(Membership.run_id == run.id)).all()
        segments = {s.id: s for s in db.session.scalars(sa.select(Segment).where(Segment.run_id == run.id))}
    assert len(rows) == known + len(active_recent) and run.counts["assigned_new"] == len(active_recent)
    assert Counter(r.segment_id for r in rows if r.segment_id) == {sid: s.size for sid, s in segments.items()}
    new_rows = [r for r in rows if r.customer_id in recent]
    assert {r.value_type for r in new_rows} == {"new"} and {r.action for r in new_rows} == {"welcome_offer"}
    # Which persona each segment holds, learnt from the customers the run saw ...
    ids = demo_shop.tables["customers"]["customer_id"]
    persona = dict(zip(ids.tolist(), demo_shop.persona.tolist()))
    by_segment: dict = {}
    for r in rows:
        if r.customer_id not in recent and r.segment_id:
            by_segment.setdefault(r.segment_id, Counter())[persona[r.customer_id]] += 1
    segment_persona = {sid: counts.most_common(1)[0][0] for sid, counts in by_segment.items()}
    # ... is the persona of the newcomers placed in it.
    placed = [(segment_persona[r.segment_id], persona[r.customer_id]) for r in new_rows if r.segment_id]
    assert len(placed) >= 0.8 * len(new_rows)
    assert np.mean([a == b for a, b in placed]) >= 0.9
    assert all(r.city and r.country and r.source for r in new_rows)

    again = app.test_cli_runner().invoke(args=["shopcrm", "assign-new"])
    assert again.exit_code == 0 and "0 new customer(s)" in again.output


def test_assign_new_needs_a_run(make_app):
    result = make_app().test_cli_runner().invoke(args=["shopcrm", "assign-new"])
    assert result.exit_code != 0 and "no segmentation run yet" in result.output
