"""docs/examples/magento2.toml against docs/examples/magento2-schema.sql, on SQLite and MariaDB:
the worked example of a custom mapping for an EAV catalogue passes ``doctor`` and segments;
DECIMAL(12,4) quantities are read when whole and named when not; a shop that stores UTC gets
its order ages, ``--as-of`` and abandoned-cart window right whatever the owner's zone."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from shopcrm.extensions import db
from shopcrm.models import Membership, Message, Run, Segment
from shopcrm.shop import connect_shop, current_mapping
from tests.shops.magento import (
    BACKPACKS,
    CUSTOMERS,
    GROUPS,
    INACTIVE_CUSTOMER,
    MAPPING_FILE,
    write_magento,
)

OWNER_ZONE = "Pacific/Honolulu"  # UTC-10: a shop clock taken for the owner's would be 10 hours behind


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


@pytest.fixture(params=["sqlite", "mariadb"])
def magento(request, tmp_path):
    """(shop database URL, writer engine, the MagentoShop written), its clock the real UTC now."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'magento.db'}"
    else:
        url = request.getfixturevalue("mariadb_database")("magento")
    writer = sa.create_engine(url)
    shop = write_magento(writer, utcnow())
    yield url, writer, shop
    writer.dispose()


def magento_app(make_app, url, mapping_file=MAPPING_FILE, **settings):
    return make_app(SHOPCRM_SHOP_DATABASE_URI=url, SHOPCRM_SHOP_MAPPING_FILE=str(mapping_file),
                    SHOPCRM_SHOP_TIMEZONE=OWNER_ZONE, SHOPCRM_SHOP_BASE_URL="https://magento.test/", **settings)


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=["shopcrm", *args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_the_example_passes_doctor_and_segments(make_app, magento):
    url, _, shop = magento
    app = magento_app(make_app, url)
    doctor = cli(app, "doctor")
    out = doctor.output
    assert doctor.exit_code == 0, out
    assert "Result: everything shopcrm needs is there." in out
    assert "[off] product views (view) from nowhere (off by choice)" in out
    assert "install the view beacon" not in out and "beacon is off" not in out  # no beacon advice: off by choice
    assert ("the column `sales_order_item`.`qty_ordered` is stored as decimals; every value is whole, so shopcrm "
            "reads them as whole numbers") in out
    assert "times: the shop's stored times are read as UTC ([shop] timezone of the mapping file)" in out

    with app.app_context(), connect_shop() as conn:
        mapping = current_mapping()
        products = {r.id: r for r in conn.execute(sa.select(mapping.source("product")))}
        categories = dict(conn.execute(sa.select(mapping.source("category", ("id", "name")))).all())
    assert products[1].name == "Joust Duffle Bag" and products[2].name == "Product 2"  # store view, then default
    assert products[1].url == "product-1.html"  # relative; not the category path's rewrite
    assert products[9].category_id == BACKPACKS and products[5].category_id == 10  # the deepest category wins
    assert products[24].active == 0 and products[23].in_stock == 0 and products[1].price == 11
    assert categories[13] == "Fitness Gear"

    segment = cli(app, "segment", "--quiet")
    assert segment.exit_code == 0, segment.output
    assert f"{CUSTOMERS - 1} customers" in segment.output  # the inactive account is left out
    with app.app_context():
        segment_of = dict(db.session.execute(sa.select(Membership.customer_id, Segment.name)
                                             .join(Segment, Segment.id == Membership.segment_id)).all())
    assert INACTIVE_CUSTOMER not in segment_of and len(segment_of) == CUSTOMERS - 1
    names = {**GROUPS, 13: "Fitness Gear"}  # the store view's name of Gear
    found = Counter(names[persona] in segment_of[c] for c, persona in shop.persona.items() if c in segment_of)
    assert found[True] >= 0.8 * (CUSTOMERS - 1), found  # the planted interest groups are found, under their names


def test_a_shop_storing_utc_gets_order_ages_and_cart_windows_right(make_app, magento):
    """The owner lives at UTC-10; Magento stores UTC. Recency, ``--as-of`` around midnight and
    the abandoned-cart window are all on the shop's UTC clock."""
    url, writer, shop = magento
    now = utcnow()
    with writer.begin() as conn:
        shop.add_order(conn, 1, now - timedelta(minutes=20), [(1, "1.0000")])
        shop.add_cart(conn, 4, now - timedelta(hours=5), [2, 6])  # idle 5 hours: reminded (after 4)
        shop.add_cart(conn, 8, now - timedelta(hours=1), [10])  # idle 1 hour: not yet
    app = magento_app(make_app, url)
    assert cli(app, "segment", "--quiet").exit_code == 0
    with app.app_context():
        recency = dict(db.session.execute(sa.select(Membership.customer_id, Membership.recency_days)).all())
        as_of = db.session.scalar(sa.select(Run.as_of))
    assert abs(as_of - now) < timedelta(minutes=2)  # "now" on the shop's UTC clock, not the owner's
    assert 19 / 1440 <= recency[1] <= 22 / 1440  # the order of 20 minutes ago, 20 minutes old

    with app.app_context():
        from shopcrm.campaigns.triggers import configure, run_triggers

        configure("abandoned_cart", enabled=True)
        db.session.commit()
        report = run_triggers(only="abandoned_cart")["abandoned_cart"]
        reminded = set(db.session.scalars(sa.select(Message.customer_id)))
    assert report["audience"] == 1 and reminded == {4}, report
    assert report["note"] == f"carts idle since before {now - timedelta(hours=4):%Y-%m-%d %H:%M}"

    midnight = datetime(now.year, now.month, now.day) + timedelta(days=1)  # the next midnight, UTC
    with writer.begin() as conn:
        shop.add_order(conn, 2, midnight - timedelta(minutes=10), [(3, "2.0000")])
        shop.add_order(conn, 3, midnight + timedelta(minutes=10), [(4, "1.0000")])  # after --as-of
    assert cli(app, "segment", "--quiet", "--as-of", f"{midnight:%Y-%m-%d}").exit_code == 0
    with app.app_context():
        run = db.session.scalar(sa.select(Run).order_by(Run.id.desc()))
        recency = dict(db.session.execute(sa.select(Membership.customer_id, Membership.recency_days)
                                          .where(Membership.run_id == run.id)).all())
    assert run.as_of == midnight
    assert recency[2] == pytest.approx(10 / 1440, abs=1e-3)
    assert recency[3] > 1  # its order ten minutes after midnight is not there yet


def test_quantities_that_are_not_whole_are_named_with_their_fix(make_app, magento, tmp_path):
    url, writer, shop = magento
    with writer.begin() as conn:
        order = shop.add_order(conn, 6, shop.now - timedelta(days=1), [(7, "1.5000")])
        shop.add_cart(conn, 16, shop.now - timedelta(hours=6), [11])
        conn.execute(sa.text("UPDATE quote_item SET qty = 0.25 WHERE product_id = 11"))
    app = magento_app(make_app, url)
    doctor = cli(app, "doctor")
    assert doctor.exit_code == 1, doctor.output
    assert (f"PROBLEM: the column `sales_order_item`.`qty_ordered` holds 1.5 (order {order}, product 7); 1 row(s) in "
            "all have a quantity that is not a whole number, but shopcrm counts whole items. Map 'order_line' with a "
            "SELECT that rounds it, e.g. CEIL(qty_ordered) AS quantity") in doctor.output
    assert ("PROBLEM: the column `quantity` of the SELECT of 'cart_item' holds 0.25 (customer 16, product 11)"
            in doctor.output)

    segment = cli(app, "segment", "--quiet")
    assert segment.exit_code == 1
    assert segment.output.strip().splitlines() == [
        f"Error: order lines (order_line): the column `sales_order_item`.`qty_ordered` holds 1.5 (order {order}, "
        "product 7), but shopcrm counts whole items: map 'order_line' with a SELECT that rounds the quantity "
        "(e.g. CEIL(…) AS quantity), see docs/MAPPING.md; `flask --app wsgi shopcrm doctor` counts such rows"]

    # The fix the messages give works: round up in a SELECT.
    fixed = tmp_path / "magento-fixed.toml"
    text = MAPPING_FILE.read_text().split("[order_line]")[0] + '''[order_line]
select = """
SELECT order_id AS order_id, product_id AS product_id, CEIL(qty_ordered) AS quantity,
       base_price_incl_tax AS unit_price
FROM {prefix}sales_order_item WHERE parent_item_id IS NULL
"""
'''
    fixed.write_text(text.replace("qi.qty AS quantity", "CEIL(qi.qty) AS quantity"))
    app = magento_app(make_app, url, mapping_file=fixed)
    assert cli(app, "doctor").exit_code == 0
    assert cli(app, "segment", "--quiet").exit_code == 0
    with app.app_context(), connect_shop() as conn:
        from shopcrm.shop import timeline

        lines = [line for o in timeline.orders(conn, current_mapping(), 6) for line in o["lines"]
                 if o["id"] == order]
    assert lines == [{"product_id": 7, "quantity": 2, "unit_price": pytest.approx(17 * 1.19)}]


def test_whole_decimal_quantities_come_back_as_whole_numbers(make_app, magento):
    """The profile and the cart reminder show "2 ×", not "2.0000 ×"."""
    url, writer, shop = magento
    with writer.begin() as conn:
        order = shop.add_order(conn, 9, shop.now - timedelta(days=1), [(13, "2.0000")])
        shop.add_cart(conn, 9, shop.now - timedelta(hours=6), [14])
    app = magento_app(make_app, url)
    with app.app_context(), connect_shop() as conn:
        from shopcrm.shop import activity, timeline

        mapping = current_mapping()
        lines = [line for o in timeline.orders(conn, mapping, 9) if o["id"] == order for line in o["lines"]]
        cart = activity.cart_lines(conn, mapping, [9])[9]
    assert [(line["quantity"], type(line["quantity"])) for line in lines] == [(2, int)]
    assert [(line["quantity"], type(line["quantity"])) for line in cart] == [(1, int)]
