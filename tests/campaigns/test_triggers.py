"""Triggers on the demo shop: abandoned cart, browse abandonment, win-back, the offer after each
run; the re-check at send time; recommendations from association rules."""
import re
import shutil
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.campaigns.service import create_campaign, preview
from shopcrm.campaigns.triggers import configure, ensure_triggers, run_triggers
from shopcrm.clock import utcnow
from shopcrm.delivery.sender import send_due
from shopcrm.errors import CampaignError
from shopcrm.extensions import db
from shopcrm.models import Membership, Message, Rule, Run, Segment, Trigger
from tests.support.apps import DEMO_NOW, base_config, dispose
from tests.support.campaigns import SHOP_CLOCK, shop_execute, tracked_targets


@pytest.fixture
def app(tmp_path, segmented_template, shop_file):
    """A segmented crm database and a shop this test may change."""
    shutil.copy(segmented_template, tmp_path / "crm.db")
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop_file}"))
    yield app
    dispose(app)


def at(hours_before: float) -> str:
    return (DEMO_NOW - timedelta(hours=hours_before)).strftime(SHOP_CLOCK)


def expected_carts(shop_file, hours=4, days=7) -> set[int]:
    """Abandoned carts computed straight from the shop's tables, independently of shopcrm."""
    rows = shop_execute(shop_file, """
        SELECT c.customer_id FROM cart_items c JOIN products p ON p.product_id = c.product_id
        WHERE c.added_at >= ? AND p.active = 1 AND p.price > 0
          AND c.customer_id IN (
            SELECT customer_id FROM cart_items WHERE added_at >= ? GROUP BY customer_id HAVING MAX(added_at) <= ?)
          AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id
                          AND o.status IN ('complete', 'processing')
                          AND o.placed_at >= (SELECT MIN(added_at) FROM cart_items x
                                              WHERE x.customer_id = c.customer_id AND x.added_at >= ?))
        GROUP BY c.customer_id""", (at(days * 24), at(days * 24), at(hours), at(days * 24)))
    return {int(r[0]) for r in rows}


def test_abandoned_carts_are_reminded_once_and_not_after_a_purchase(app, shop_file):
    expected = expected_carts(shop_file)
    assert len(expected) > 20
    with app.app_context():
        configure("abandoned_cart", enabled=True)
        db.session.commit()
        report = run_triggers(now=DEMO_NOW)["abandoned_cart"]
        assert report["audience"] == len(expected) and report["queued"] > 10
        rows = db.session.scalars(sa.select(Message)).all()
        active = {int(r[0]) for r in shop_execute(shop_file, "SELECT customer_id FROM customers WHERE active = 1")}
        assert {r.customer_id for r in rows} == expected & active  # closed accounts get nothing
        assert report["customer_gone"] == len(expected - active)
        carts = defaultdict(list)
        for cid, pid, added, name in shop_execute(
                shop_file, "SELECT c.customer_id, c.product_id, c.added_at, p.name FROM cart_items c "
                           "JOIN products p ON p.product_id = c.product_id WHERE c.added_at >= ? "
                           "AND p.active = 1 AND p.price > 0", (at(7 * 24),)):
            carts[cid].append((pid, added, name))
        starts = {int(cid): datetime.strptime(first, SHOP_CLOCK) for cid, first in shop_execute(
            shop_file, "SELECT customer_id, MIN(added_at) FROM cart_items WHERE added_at >= ? GROUP BY customer_id",
            (at(7 * 24),))}
        for row in rows:
            started = starts[row.customer_id]  # when the cart was started (any line, sellable or not)
            assert row.dedupe_key == f"cart:{started:%Y%m%d%H%M%S}" and row.stop_if_ordered_since == started
            if row.state == "queued":
                targets = tracked_targets(row.html)
                cart_urls = {f"https://shop.test/product.php?id={pid}" for pid, _, _ in carts[row.customer_id]}
                assert cart_urls <= targets  # the cart's products are in the email
                recommended = targets - cart_urls - {"https://shop.test/"}
                assert recommended and not recommended & cart_urls  # and recommendations are other products
        again = run_triggers(now=DEMO_NOW)["abandoned_cart"]
        assert again["queued"] == 0 and again["already_queued"] == sum(r.state == "suppressed" for r in rows)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == len(rows)  # nothing twice
        later = run_triggers(now=DEMO_NOW + timedelta(hours=3))["abandoned_cart"]  # more carts went idle
        newcomers = db.session.scalars(sa.select(Message).where(Message.id > max(r.id for r in rows))).all()
        assert len(newcomers) == later["queued"] + sum(later["suppressed"].values())
        reminded = {r.customer_id for r in rows if r.state == "queued"}
        assert not {r.customer_id for r in newcomers} & reminded  # nobody is reminded twice within the window

        # One customer buys after the reminder was queued: it must not go out.
        buyer = next(r for r in rows if r.state == "queued")
        shop_execute(shop_file, "INSERT INTO orders (order_id, customer_id, placed_at, total, status) "
                                "VALUES (990001, ?, ?, 42.0, 'complete')", (buyer.customer_id, at(-1)))
        waiting = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.state == "queued"))
        sent = send_due()
        db.session.refresh(buyer)
        assert (buyer.state, buyer.reason) == ("cancelled", "bought_meanwhile")
        assert sent.reasons == {"bought_meanwhile": 1} and sent.sent == waiting - 1


def test_html_in_a_carted_product_name_is_escaped(app, shop_file):
    customer = shop_execute(shop_file, "SELECT customer_id FROM customers WHERE newsletter = 1 AND active = 1 "
                                       "AND email LIKE '%@example.%' AND customer_id NOT IN "
                                       "(SELECT customer_id FROM cart_items) ORDER BY customer_id LIMIT 1")[0][0]
    shop_execute(shop_file, "INSERT INTO cart_items (customer_id, product_id, quantity, added_at) VALUES "
                            "(?, 1001, 1, ?), (?, 1022, 2, ?)", (customer, at(6), customer, at(5)))
    with app.app_context():
        run_triggers(now=DEMO_NOW, only="abandoned_cart")
        row = db.session.scalar(sa.select(Message).where(Message.customer_id == customer))
        assert row.state == "queued"
        assert "<script>" not in row.html and "<b>gel" not in row.html
        # escaped as text (the CSS inliner writes quotes in text as they are: harmless outside a tag)
        assert "&lt;script&gt;alert('xss')&lt;/script&gt; Trail shoe" in row.html
        assert 'Tom &amp; Jerry "Energy" &lt;b&gt;gel&lt;/b&gt;</a>' in row.html and "Quantity: 2" in row.html
        assert "<script>alert('xss')</script> Trail shoe" in row.text  # plain text stays plain text


def test_browse_abandonment_reminds_of_a_product_looked_at_but_not_carted(app, shop_file):
    quiet = shop_execute(shop_file, """
        SELECT customer_id FROM customers WHERE newsletter = 1 AND active = 1 AND email LIKE '%@example.%'
          AND customer_id NOT IN (SELECT customer_id FROM orders WHERE placed_at >= ?)
          AND customer_id NOT IN (SELECT customer_id FROM product_views WHERE viewed_at >= ? AND customer_id IS NOT NULL)
        ORDER BY customer_id LIMIT 2""", (at(30 * 24), at(4 * 24)))
    viewer, carter = (int(r[0]) for r in quiet)
    looked_at = 1104  # active, priced
    for customer in (viewer, carter):
        for hours in (30, 20, 6):
            shop_execute(shop_file, "INSERT INTO product_views (customer_id, product_id, viewed_at) VALUES (?, ?, ?)",
                         (customer, looked_at, at(hours)))
        shop_execute(shop_file, "INSERT INTO product_views (customer_id, product_id, viewed_at) VALUES (?, 1103, ?),"
                                "(?, 1103, ?)", (customer, at(9), customer, at(8)))  # inactive: never offered
    shop_execute(shop_file, "INSERT INTO cart_items (customer_id, product_id, quantity, added_at) VALUES (?, ?, 1, ?)",
                 (carter, looked_at, at(100)))
    with app.app_context():
        report = run_triggers(now=DEMO_NOW, only="browse_abandonment")["browse_abandonment"]
        assert report["queued"] >= 1
        rows = {r.customer_id: r for r in db.session.scalars(sa.select(Message))}
        assert carter not in rows  # it is in their cart: the cart reminder's job
        mine = rows[viewer]
        assert mine.subject.startswith("Still thinking about Brewhouse Milk frother")
        assert mine.dedupe_key.startswith(f"browse:{looked_at}:") and mine.stop_if_ordered_since == datetime.strptime(
            at(30), SHOP_CLOCK)
        targets = tracked_targets(mine.html)
        assert f"https://shop.test/product.php?id={looked_at}" in targets
        assert "https://shop.test/product.php?id=1103" not in targets
        # Re-evaluating a little later: nothing new for the same customer within the window.
        assert run_triggers(now=DEMO_NOW + timedelta(hours=2), only="browse_abandonment")[
            "browse_abandonment"]["queued"] == 0


def test_win_back_goes_to_customers_at_risk_who_did_not_come_back(app, shop_file):
    with app.app_context():
        run = Run.current()
        at_risk = [int(c) for c in db.session.scalars(
            sa.select(Membership.customer_id).where(Membership.run_id == run.id, Membership.frequency > 0)
            .order_by(Membership.customer_id).limit(40))]
        # A known answer: the run's own churn flags cleared, then these 40 flagged by hand.
        db.session.execute(sa.update(Membership).where(Membership.run_id == run.id).values(churn_risk=False))
        db.session.execute(sa.update(Membership).where(Membership.run_id == run.id,
                                                       Membership.customer_id.in_(at_risk))
                           .values(churn_risk=True, churn_score=0.8))
        db.session.commit()
        returned = at_risk[0]
        shop_execute(shop_file, "INSERT INTO orders (order_id, customer_id, placed_at, total, status) "
                                "VALUES (990002, ?, ?, 30.0, 'complete')", (returned, at(-12)))
        configure("win_back", enabled=True)
        db.session.commit()
        later = DEMO_NOW + timedelta(days=1)
        report = run_triggers(now=later)["win_back"]
        rows = {r.customer_id: r for r in db.session.scalars(sa.select(Message))}
        assert set(rows) == set(at_risk) - {returned} and report["audience"] == len(at_risk) - 1
        assert all(r.stop_if_ordered_since == later for r in rows.values())
        assert run_triggers(now=later + timedelta(days=3))["win_back"]["queued"] == 0


def test_the_offer_after_a_run_goes_out_once_per_run(app, shop_file):
    with app.app_context():
        configure("run_offer", enabled=True, coupon="THANKS")
        db.session.commit()
        first = run_triggers(now=DEMO_NOW)["run_offer"]
        assert first["queued"] == 0 and "waiting for the next run" in first["note"]  # the old run is skipped
        old = Run.current()
        new = Run(kind="segmentation", status="succeeded", started_at=utcnow(), finished_at=utcnow(), as_of=DEMO_NOW)
        db.session.add(new)
        db.session.flush()
        for seg in old.segments:
            db.session.add(Segment(run_id=new.id, label=seg.label, name=seg.name, size=seg.size, top=seg.top))
        db.session.flush()
        ids = {s.label: s.id for s in new.segments}
        labels = {s.id: s.label for s in old.segments}
        members = db.session.execute(sa.select(Membership.customer_id, Membership.segment_id, Membership.value_type)
                                     .where(Membership.run_id == old.id)).all()
        db.session.execute(Membership.__table__.insert(), [
            {"run_id": new.id, "customer_id": m.customer_id, "value_type": m.value_type, "frequency": 0, "monetary": 0,
             "segment_id": ids[labels[m.segment_id]] if m.segment_id else None} for m in members])
        db.session.commit()
        profitable = {m.customer_id for m in members if m.value_type in ("high_value", "most_growth", "new")}
        second = run_triggers(now=DEMO_NOW)["run_offer"]
        rows = db.session.scalars(sa.select(Message)).all()
        assert {r.customer_id for r in rows} == profitable and second["audience"] == len(profitable)
        assert {r.dedupe_key for r in rows} == {f"run:{new.id}"}
        assert all("THANKS" in r.text and "THANKS" in r.html for r in rows if r.state == "queued")
        third = run_triggers(now=DEMO_NOW)["run_offer"]
        assert third["audience"] == 0 and "already queued" in third["note"]


def test_trigger_settings_are_checked(app):
    with app.app_context():
        assert [t.kind for t in ensure_triggers()] == ["run_offer", "abandoned_cart", "browse_abandonment", "win_back"]
        assert not any(t.enabled for t in ensure_triggers())  # nothing is sent until an admin enables it
        for kind, params, message in [
            ("abandoned_cart", {"hours": "soon"}, "hours.* must be a number from 0.25 to 720, not 'soon'"),
            ("abandoned_cart", {"hours": 0}, "from 0.25 to 720, not 0"),
            ("abandoned_cart", {"color": "red"}, "unknown parameter"),
            ("abandoned_cart", {"hours": 200, "max_age_days": 7}, "shorter than max_age_days"),
            ("browse_abandonment", {"min_views": 1}, "whole number from 2 to 1000"),
            ("browse_abandonment", {"quiet_hours": 80}, "shorter than lookback_hours"),
            ("run_offer", {"target": {"segment_ids": [1]}}, "segment_names"),
            ("run_offer", {"target": {"value_types": ["vip"]}}, "unknown value type"),
            ("run_offer", {"target": "everyone"}, "target must look like"),
            ("win_back", {"window_days": 1.5}, "whole number"),
            ("win_back", {"window_days": True}, "not True"),
        ]:
            with pytest.raises(CampaignError, match=message):
                configure(kind, params=params)
        with pytest.raises(CampaignError, match="unknown trigger"):
            configure("birthday")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["shopcrm", "triggers", "set", "abandoned_cart", "--enable", "--param", "hours=6"])
    assert result.exit_code == 0 and "hours after the last cart change: 6" in result.output
    assert "{" not in result.output  # in words, not a dictionary
    listing = runner.invoke(args=["shopcrm", "triggers", "list"])
    assert "abandoned_cart      enabled" in listing.output and "for: Best customers or Growing or New sign-ups" in \
        listing.output
    assert "{" not in listing.output and "ignore carts older than (days): 7" in listing.output
    run = runner.invoke(args=["shopcrm", "triggers", "run", "--now", DEMO_NOW.isoformat()])
    assert run.exit_code == 0 and "abandoned_cart: carts idle since before 2026-10-31 18:00" in run.output
    assert "{" not in run.output


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e308, "NaN", "Infinity", "1e308",
                                   "nan", "-1e308"])
def test_non_finite_and_absurd_trigger_values_are_refused(app, value):
    with app.app_context():
        for kind, key in (("abandoned_cart", "hours"), ("abandoned_cart", "max_age_days"),
                          ("browse_abandonment", "lookback_hours"), ("win_back", "window_days")):
            with pytest.raises(CampaignError, match=f"\\({key}\\) must be a (whole )?number from"):
                configure(kind, params={key: value})
    # the command line turns JSON's NaN and Infinity into floats: refused the same way, nothing stored
    shown = value if isinstance(value, str) else ("NaN" if value != value else repr(value).replace("inf", "Infinity"))
    result = app.test_cli_runner().invoke(args=["shopcrm", "triggers", "set", "win_back", "--param",
                                                f"window_days={shown}"])
    assert result.exit_code != 0 and "must be a whole number from 1 to 365" in result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert ensure_triggers()[3].params["window_days"] == 60


def test_a_trigger_with_unusable_stored_settings_does_not_stop_the_others(app, shop_file):
    """Settings stored before they were checked this strictly (NaN hours) made `triggers run` crash,
    and the enabled win-back then queued nothing. Now that trigger is skipped with the reason."""
    with app.app_context():
        run = Run.current()
        at_risk = [int(c) for c in db.session.scalars(sa.select(Membership.customer_id).where(
            Membership.run_id == run.id, Membership.churn_risk.is_(True)))]
        assert len(at_risk) > 20
        configure("win_back", enabled=True)
        cart = configure("abandoned_cart", enabled=True)
        db.session.commit()
        db.session.execute(sa.update(Trigger).where(Trigger.id == cart.id).values(
            params={"hours": float("nan"), "max_age_days": 7, "window_days": 1e308}))
        db.session.commit()
        reports = run_triggers(now=DEMO_NOW + timedelta(days=1))
        assert reports["abandoned_cart"]["queued"] == 0
        assert reports["abandoned_cart"]["note"].startswith("not run: trigger abandoned_cart: hours")
        assert reports["win_back"]["audience"] > 0 and reports["win_back"]["queued"] > 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
            Message.campaign_id == ensure_triggers()[3].campaign_id)) == reports["win_back"]["audience"]
    result = app.test_cli_runner().invoke(args=["shopcrm", "triggers", "run", "--now",
                                                (DEMO_NOW + timedelta(days=2)).isoformat()])
    assert result.exit_code == 0 and "abandoned_cart: not run:" in result.output and "win_back:" in result.output


def test_recommendations_follow_association_rules_and_skip_what_cannot_be_offered(app, shop_file):
    with app.app_context():
        run = Run.current()
        member = db.session.scalars(sa.select(Membership).where(Membership.run_id == run.id,
                                                                Membership.frequency > 1)).first()
        bought = {int(r[0]) for r in shop_execute(
            shop_file, "SELECT DISTINCT l.product_id FROM order_lines l JOIN orders o ON o.order_id = l.order_id "
                       "WHERE o.customer_id = ? AND o.status IN ('complete', 'processing')", (member.customer_id,))}
        anchor = min(bought)
        sellable = [int(r[0]) for r in shop_execute(
            shop_file, "SELECT product_id FROM products WHERE active = 1 AND price > 0 ORDER BY product_id DESC")]
        paired = next(p for p in sellable if p not in bought)
        rules = [(paired, 0.9), (1103, 0.99), (1003, 0.98), (max(bought), 0.97)]  # inactive, no price, owned
        db.session.add_all(Rule(run_id=run.id, kind="product", antecedent=anchor, consequent=c, count=5, support=0.01,
                                confidence=conf, lift=3.0) for c, conf in rules)
        db.session.commit()
        campaign = create_campaign("Picks", {"run_id": run.id, "value_types": [member.value_type]})
        db.session.flush()
        rendered = preview(campaign, member.customer_id)
        db.session.rollback()
        links = re.findall(r'href="(https://shop\.test/[^"]+)"', rendered.html)  # a preview is not tracked
    products = [int(u.rsplit("=", 1)[1]) for u in links if "product.php" in u]
    assert products[0] == paired  # bought together with what they bought: first
    assert not {1103, 1003} & set(products) and not bought & set(products)  # inactive, unpriced, owned: never
    assert "/crm/c/" not in rendered.html  # a preview tracks nothing: its clicks must never count


def _beacon_view(customer: int, product: int, hours_before: float, nonce: str) -> None:
    """A view as the beacon stores it: in crm_view, in UTC."""
    from datetime import timezone

    from shopcrm.models import ProductView

    local = DEMO_NOW - timedelta(hours=hours_before)
    db.session.add(ProductView(customer_id=customer, product_id=product, nonce=nonce,
                               viewed_at=local.astimezone(timezone.utc).replace(tzinfo=None)))


@pytest.mark.parametrize("views_from", ["beacon", "both"])
def test_browse_abandonment_reads_the_view_beacon(tmp_path, segmented_template, shop_file, views_from):
    """OpenCart-like shops have views only in crm_view; a shop with both adds them up."""
    shutil.copy(segmented_template, tmp_path / "crm.db")
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop_file}",
                                 SHOPCRM_SHOP_VIEWS=views_from))
    quiet = shop_execute(shop_file, """
        SELECT customer_id FROM customers WHERE newsletter = 1 AND active = 1 AND email LIKE '%@example.%'
          AND customer_id NOT IN (SELECT customer_id FROM orders WHERE placed_at >= ?)
          AND customer_id NOT IN (SELECT customer_id FROM product_views WHERE viewed_at >= ? AND customer_id IS NOT NULL)
          AND customer_id NOT IN (SELECT customer_id FROM cart_items)
        ORDER BY customer_id LIMIT 2""", (at(30 * 24), at(4 * 24)))
    beacon_only, split = (int(r[0]) for r in quiet)
    looked_at = 1104
    try:
        with app.app_context():
            for i, hours in enumerate((30, 20, 6)):
                _beacon_view(beacon_only, looked_at, hours, nonce=f"{i:032x}")
            _beacon_view(split, looked_at, 10, nonce="f" * 32)  # one view here ...
            db.session.commit()
            # ... and one in the shop's own table: together they make the two views the trigger wants.
            shop_execute(shop_file, "INSERT INTO product_views (customer_id, product_id, viewed_at) VALUES (?, ?, ?)",
                         (split, looked_at, at(8)))
            run_triggers(now=DEMO_NOW, only="browse_abandonment")
            reminded = {r.customer_id: r for r in db.session.scalars(sa.select(Message))}
            assert beacon_only in reminded
            assert reminded[beacon_only].dedupe_key.startswith(f"browse:{looked_at}:")
            # The first view (30 hours ago, stored in UTC) comes back as shop time.
            assert reminded[beacon_only].stop_if_ordered_since == datetime.strptime(at(30), SHOP_CLOCK)
            assert (split in reminded) == (views_from == "both")
    finally:
        dispose(app)


@pytest.mark.parametrize("visitors", [2, 8])
def test_first_visits_at_once_create_each_trigger_once(visitors, mariadb_database, tmp_path, demo_shop_file,
                                                       monkeypatch):
    """All requests read "no triggers yet" before any writes (a barrier makes sure); then one
    at a time (the set-up lease) reads again and creates what is missing, so each trigger and
    its campaign exist once. Separate processes: tests/test_first_use_races.py."""
    import threading

    from shopcrm.campaigns import triggers as trigger_module
    from shopcrm.models import Campaign, Trigger
    from shopcrm.vocab import TRIGGER_KINDS
    from tests.support.apps import migrate

    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=mariadb_database("crm"),
                                 SHOPCRM_SHOP_DATABASE_URI="sqlite:///" + str(demo_shop_file)))
    migrate(app)
    barrier, waited = threading.Barrier(visitors, timeout=20), set()
    real_read = trigger_module._triggers_by_kind

    def read_then_wait_for_the_others(*args, **kwargs):
        found = real_read(*args, **kwargs)
        if threading.get_ident() not in waited:  # each one's first look: all of them see nothing
            waited.add(threading.get_ident())
            barrier.wait()
        return found

    monkeypatch.setattr(trigger_module, "_triggers_by_kind", read_then_wait_for_the_others)
    results, errors = [], []

    def visit():
        try:
            with app.app_context():
                results.append(sorted(t.kind for t in ensure_triggers()))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=visit) for _ in range(visitors)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert results == [sorted(TRIGGER_KINDS)] * visitors
        with app.app_context():
            assert sorted(db.session.scalars(sa.select(Trigger.kind))) == sorted(TRIGGER_KINDS)
            kinds = list(db.session.scalars(sa.select(Campaign.kind).where(Campaign.kind != "campaign")))
            assert sorted(kinds) == sorted(TRIGGER_KINDS)  # the loser's campaigns were rolled back
    finally:
        dispose(app)
