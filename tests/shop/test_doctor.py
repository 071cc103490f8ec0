"""``flask shopcrm doctor`` and bad shop data: readable reports, clear errors, never a traceback."""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from shopcrm import create_app, demo
from shopcrm.extensions import db
from shopcrm.models import Membership, Run
from shopcrm.shop import connect_shop, current_mapping, queries
from tests.shops.common import database_name, select_only_user, writer_engine
from tests.shops.opencart import write_opencart
from tests.support.apps import DEMO_NOW, base_config, dispose

BROKEN = """
[mapping]
name = "broken shop"

[customer]
table = "clients"
columns = { id = "client_id", email = "email", first_name = "first_name", created_at = "created_at" }

[product]
table = "products"
columns = { id = "product_id", name = "title", price = "price", category_id = "category_id" }

[category]
table = "categories"
columns = { id = "category_id", name = "name" }

[order]
table = "legacy_orders"
columns = { id = "id", customer_id = "customer", placed_at = "created", total = "amount" }

[order_line]
select = "SELECT order_id, product_id, quantity, unit_price FROM order_linez"

[view]
store = "crm"
"""


@pytest.fixture
def small_shop(mariadb_database):
    url = mariadb_database("shop")
    writer = writer_engine(url)
    demo.write(writer, demo.generate(seed=5, customers=150, now=DEMO_NOW))
    with writer.begin() as conn:  # a legacy table with unix timestamps in an INT column
        conn.exec_driver_sql("CREATE TABLE legacy_orders (id INT PRIMARY KEY, customer INT, created INT, "
                             "amount DECIMAL(10,2))")
        conn.exec_driver_sql("INSERT INTO legacy_orders VALUES (1, 107, 1767225600, 10.00)")
    writer.dispose()
    return url


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=["shopcrm", *args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_doctor_explains_a_broken_mapping_and_exits_non_zero(small_shop, tmp_path, make_app):
    mapping_file = tmp_path / "broken.toml"
    mapping_file.write_text(BROKEN)
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=small_shop, SHOPCRM_SHOP_MAPPING_FILE=str(mapping_file))
    result = cli(app, "doctor")
    out = result.output
    assert result.exit_code == 1, out
    assert "mapping 'broken shop'" in out
    assert "[PROBLEM] customers (customer) from the table `clients`" in out
    assert "the table `clients` does not exist in the shop database" in out
    assert "the table `products` has no column `title` (mapped as the name)" in out
    assert ("the column `legacy_orders`.`created` holds numbers, but the order date must be a date and time; "
            "if it holds unix timestamps, map 'order' with a SELECT and FROM_UNIXTIME") in out
    assert "the SELECT of 'order_line' does not run" in out and "order_linez" in out
    assert "[ok] categories (category) from the table `categories`: 12 rows, columns ok, sample row parsed" in out
    assert "the view beacon is off" in out
    assert "hint: the tables look like the generic (demo) shop with table prefix ''" in out
    assert "Result: 4 problem(s); shopcrm cannot segment this shop until they are fixed." in out

    data = json.loads(cli(app, "doctor", "--json").output)
    assert data["ok"] is False and data["mapping"] == "broken shop"
    assert {e["entity"]: e["status"] for e in data["entities"]}["customer"] == "PROBLEM"

    segment = cli(app, "segment")  # the same mapping, run for real: a clear error, no traceback
    assert segment.exit_code != 0
    assert "does not fit the shop database" in segment.output and "clients" in segment.output
    with app.app_context():
        assert Run.current() is None


def test_doctor_on_a_good_mapping_reports_rows_rights_and_index_advice(small_shop, make_app):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=small_shop)  # root: may write
    result = cli(app, "doctor")
    assert result.exit_code == 0, result.output
    assert "Result: everything shopcrm needs is there." in result.output
    assert "warning: the database user root@" in result.output and "ALL PRIVILEGES" in result.output
    advice = "CREATE INDEX `shopcrm_orders_customer_id` ON `orders` (`customer_id`, `placed_at`, `total`, `status`);"
    assert advice in result.output
    assert "e-mail address" in result.output  # the demo's dirty e-mails, counted

    # The advice is a statement a hosting admin can run as it is; afterwards it is not repeated.
    admin = sa.create_engine(small_shop)
    with admin.begin() as conn:
        conn.exec_driver_sql(advice)
    admin.dispose()
    assert advice not in cli(app, "doctor").output

    with select_only_user(sa.engine.make_url(small_shop).set(database=None).render_as_string(hide_password=False),
                          database_name(small_shop)) as reader:
        reader_app = make_app(SHOPCRM_SHOP_DATABASE_URI=reader)
        out = cli(reader_app, "doctor").output
        dispose(reader_app)
    assert "access: the database user crm_ro_" in out and "can only read the shop database" in out


@pytest.mark.parametrize("settings,message", [
    ({"SHOPCRM_SHOP_DATABASE_URI": "mysql+pymysql://nobody:secret@127.0.0.1:1/shop"}, "cannot reach the shop database"),
    ({"SHOPCRM_SHOP_PRESET": "woocommerce"}, "unknown mapping preset 'woocommerce'"),
])
def test_doctor_reports_an_unusable_configuration_readably(make_app, settings, message):
    result = cli(make_app(**settings), "doctor")
    assert result.exit_code == 1 and f"PROBLEM: {message}" in result.output and "secret" not in result.output


def test_doctor_reports_a_mapping_file_that_is_not_toml(make_app, tmp_path):
    path = tmp_path / "shop.toml"
    path.write_text("[customer\ntable = 'x'\n")
    result = cli(make_app(SHOPCRM_SHOP_MAPPING_FILE=str(path)), "doctor")
    assert result.exit_code == 1 and f"PROBLEM: {path}: not valid TOML" in result.output


# --- bad shop data, end to end through the CLI -------------------------------------------------------

def test_dirty_opencart_data_is_handled_as_documented(mariadb_database, mariadb_server_url, tmp_path, crm_template):
    shop = demo.generate(seed=21, customers=150, now=DEMO_NOW)
    url = mariadb_database("oc")
    writer = writer_engine(url)
    write_opencart(writer, shop)
    cust = shop.tables["customers"]
    disabled, buyer = int(cust["customer_id"][3]), int(cust["customer_id"][4])
    future = (max(DEMO_NOW, datetime.now()) + timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
    with writer.begin() as conn:
        conn.exec_driver_sql(f"UPDATE oc_customer SET status = 0 WHERE customer_id = {disabled}")
        conn.exec_driver_sql("INSERT INTO oc_order (order_id, customer_id, total, order_status_id, date_added) "
                             f"VALUES (990001, {buyer}, 50, 5, '{future}'), (990002, {buyer}, 70, 16, '2026-10-01'), "
                             f"(990003, {disabled}, 80, 5, '2026-10-01'), (990004, 0, 90, 5, '2026-10-02')")
        conn.exec_driver_sql("UPDATE oc_product SET price = -1 WHERE product_id = 1004")
    writer.dispose()
    shutil.copy(crm_template, tmp_path / "crm.db")
    with select_only_user(mariadb_server_url, database_name(url)) as reader:
        app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=reader, SHOPCRM_SHOP_PRESET="opencart",
                                     SHOPCRM_N_CLUSTERS=4))
        try:
            report = cli(app, "doctor")
            assert report.exit_code == 0, report.output
            for words in ("customers have no e-mail address", "repeat an e-mail address of another row",
                          "orders are dated in the future", "orders belong to guests",
                          "products have a price of 0 or less", "order lines name products the shop no longer has"):
                assert words in report.output, words
            run = cli(app, "segment", "--as-of", DEMO_NOW.isoformat())
            assert run.exit_code == 0, run.output
            with app.app_context():
                members = {m.customer_id: m for m in db.session.scalars(
                    sa.select(Membership).where(Membership.run_id == Run.current().id))}
                with connect_shop() as conn:
                    popular = queries.popular_products(conn, current_mapping(), DEMO_NOW)
        finally:
            dispose(app)
    assert disabled not in members  # status 0: not a customer
    null_email = [c for c in shop.info["dirty_email_rows"]["null"] if c in members]
    assert null_email  # no e-mail address: still segmented (never e-mailed)
    valid = [s in ("complete", "processing") for s in shop.tables["orders"]["status"]]
    bought = sum(1 for c, ok in zip(shop.tables["orders"]["customer_id"], valid) if ok and c == buyer)
    assert members[buyer].frequency == bought  # the future order and the voided one do not count
    assert all(p["price"] > 0 for products in popular.values() for p in products)
    assert 1004 not in {p["id"] for products in popular.values() for p in products}
