"""The demo shop generator: deterministic, realistic, dirty where real shops are dirty, and careful."""
from datetime import datetime

import numpy as np
import pytest
import sqlalchemy as sa

from shopcrm import demo

NOW = datetime(2026, 11, 1)


def test_same_seed_same_shop_other_seed_other_shop():
    a, b, c = demo.generate(seed=7, customers=400, now=NOW), demo.generate(seed=7, customers=400, now=NOW), \
        demo.generate(seed=8, customers=400, now=NOW)
    for table, cols in a.tables.items():
        for col, values in cols.items():
            assert list(values) == list(b.tables[table][col]), (table, col)
    assert list(a.tables["product_views"]["product_id"]) != list(c.tables["product_views"]["product_id"])


def test_the_shop_has_what_the_analyses_need(demo_shop):
    t = demo_shop.tables
    n = len(t["customers"]["customer_id"])
    assert len(t["categories"]["category_id"]) == 12 and len(t["brands"]["brand_id"]) == 20
    assert set(demo_shop.tier) == {"high", "mid", "low", "recent", "never", "new"}
    assert (demo_shop.persona == -1).mean() < 0.1
    placed = np.array(t["orders"]["placed_at"], dtype="datetime64[s]")
    months = placed.astype("datetime64[M]")
    assert len(np.unique(months)) >= 12  # at least a year of orders
    per_month = {m: (months == m).sum() for m in np.unique(months)}
    december = [v for m, v in per_month.items() if str(m).endswith("-12")]
    june = [v for m, v in per_month.items() if str(m).endswith("-06")]
    assert max(december) > max(june)  # seasonality
    signup = np.array(t["customers"]["created_at"], dtype="datetime64[s]")
    assert ((np.datetime64(NOW) - signup) < np.timedelta64(90, "D")).sum() > n * 0.05  # new sign-ups
    assert len(set(t["customers"]["city"])) > 10 and len(set(t["customers"]["source"])) >= 5
    assert len(t["cart_items"]["cart_item_id"]) > 0


def test_the_shop_is_dirty_in_the_usual_ways(demo_shop):
    t = demo_shop.tables
    emails = list(t["customers"]["email"])
    assert None in emails and "not-an-email" in emails
    lowered = [e.lower() for e in emails if isinstance(e, str) and "@" in e]
    assert len(lowered) > len(set(lowered))  # duplicates differing only in case
    assert any("<script>" in str(n) for n in t["products"]["name"])
    assert (np.array(t["products"]["price"], dtype=float) == 0).any()
    products = set(int(p) for p in t["products"]["product_id"])
    assert any(p not in products for p in t["product_views"]["product_id"])
    assert any(c is None for c in t["product_views"]["customer_id"])
    assert "pending" in set(t["orders"]["status"]) and "cancelled" in set(t["orders"]["status"])
    customers = set(int(c) for c in t["customers"]["customer_id"])
    assert any(int(c) not in customers for c in t["orders"]["customer_id"])


def test_write_refuses_to_overwrite_an_existing_shop(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    shop = demo.generate(seed=1, customers=30, now=NOW)
    demo.write(engine, shop)
    with pytest.raises(demo.ShopExists, match="--replace"):
        demo.write(engine, shop)
    counts = demo.write(engine, demo.generate(seed=2, customers=40, now=NOW), replace=True)
    assert counts["customers"] == 40
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar() == 40
    engine.dispose()


def test_unicode_and_html_survive_a_round_trip_through_mariadb(mariadb_database):
    url = mariadb_database()
    engine = sa.create_engine(url, connect_args={"local_infile": True})
    shop = demo.generate(seed=4, customers=200, now=NOW)
    counts = demo.write(engine, shop)
    assert counts["product_views"] == shop.rows("product_views")
    with engine.connect() as conn:
        names = set(conn.execute(sa.text("SELECT last_name FROM customers")).scalars())
        products = set(conn.execute(sa.text("SELECT name FROM products")).scalars())
        nulls = conn.execute(sa.text("SELECT COUNT(*) FROM customers WHERE email IS NULL")).scalar()
    engine.dispose()
    assert names == set(shop.tables["customers"]["last_name"])  # ü, ł, é and apostrophes intact
    assert any(not n.isascii() for n in names) and any("'" in n for n in names)
    assert any("<script>" in p for p in products)
    assert nulls == sum(1 for e in shop.tables["customers"]["email"] if e is None)


def test_demo_shop_command_prints_ddl_and_builds_a_shop(app, tmp_path):
    runner = app.test_cli_runner()
    ddl = runner.invoke(args=["shopcrm", "demo-shop", "--print-ddl", "mysql"])
    assert ddl.exit_code == 0 and "CREATE TABLE customers" in ddl.output and "utf8mb4" in ddl.output
    url = f"sqlite:///{tmp_path / 'cli_shop.db'}"
    built = runner.invoke(args=["shopcrm", "demo-shop", "--url", url, "--customers", "120", "--seed", "5"])
    assert built.exit_code == 0, built.output
    assert "120 customers" in built.output
    again = runner.invoke(args=["shopcrm", "demo-shop", "--url", url, "--customers", "120"])
    assert again.exit_code != 0 and "already has shop tables" in again.output
