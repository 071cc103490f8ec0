"""What reading a real shop's tables costs, side by side: the same demo data set in the generic
schema, OpenCart 4.1 and PrestaShop 8 (tests/shops/), extracted through each preset; and how many
view beacon requests one process answers.

    PYTHONPATH=. .venv/bin/python bench/presets.py [--customers 10000] [--repeat 3]

Needs MariaDB (root over 127.0.0.1 or SHOPCRM_TEST_MARIADB_URL); creates and drops its databases.
Prints medians and ratios to the generic schema measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime

import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.beacon.signing import sign
from shopcrm.beacon.store import view_scores
from shopcrm import demo
from shopcrm.extensions import db
from shopcrm.models import ProductView
from shopcrm.segmentation.extract import extract
from shopcrm.segmentation.params import InterestParams
from shopcrm.shop.presets import preset
from shopcrm.shop.readonly import install_guard
from tests.shops.common import fresh_database, writer_engine
from tests.shops.opencart import write_opencart
from tests.shops.prestashop import write_prestashop

NOW = datetime(2026, 11, 1)
SERVER = os.environ.get("SHOPCRM_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4")


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bench_extract(shop, repeat: int) -> None:
    rows = {}
    with fresh_database(SERVER, "bench_shop") as shop_url, fresh_database(SERVER, "bench_crm") as crm_url:
        writer = writer_engine(shop_url)
        demo.write(writer, shop)
        beacon = {"opencart": write_opencart(writer, shop), "prestashop": write_prestashop(writer, shop)}
        writer.dispose()
        crm = sa.create_engine(crm_url)
        ProductView.__table__.create(crm)
        reader = install_guard(sa.create_engine(shop_url))
        for name in ("generic", "opencart", "prestashop"):
            with crm.begin() as conn:
                conn.execute(ProductView.__table__.delete())
                if name in beacon:
                    conn.execute(ProductView.__table__.insert(), [
                        {"customer_id": c, "product_id": p, "viewed_at": t, "nonce": n, "received_at": t}
                        for c, p, t, n in beacon[name]])
            mapping = preset(name)

            def run():
                with reader.connect() as conn, crm.connect() as crm_conn:
                    extra = view_scores(crm_conn, conn, mapping, NOW, InterestParams().half_life_days,
                                        InterestParams().horizon_days) \
                        if mapping.reads_crm("view") else None
                    return extract(conn, mapping, NOW, extra_views=extra)

            seconds, ex = timed(run, repeat)
            rows[name] = (seconds, ex.n_customers, len(beacon.get(name, [])))
        reader.dispose()
        crm.dispose()
    base = rows["generic"][0]
    print(f"extraction ({shop.rows('customers')} customers, {shop.rows('product_views')} views, "
          f"{shop.rows('orders')} orders), median of {repeat}:")
    for name, (seconds, customers, beacon_rows) in rows.items():
        print(f"  {name:<11} {seconds:7.2f} s   x{seconds / base:4.2f} of generic   "
              f"{customers} customers, {beacon_rows} views from crm_view")


def bench_beacon(requests: int) -> None:
    secret = "bench-secret-0123456789abcdef0123"
    for label, make_url in (("SQLite", lambda tmp: f"sqlite:///{tmp}/crm.db"),
                            ("MariaDB", None)):
        with tempfile.TemporaryDirectory() as tmp, fresh_database(SERVER, "bench_beacon") as maria:
            url = make_url(tmp) if make_url else maria
            app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "INSTANCE_PATH": tmp,
                              "SQLALCHEMY_DATABASE_URI": url, "SHOPCRM_BEACON_SECRET": secret,
                              "SHOPCRM_BEACON_RATE_PER_MINUTE": requests * 2})
            with app.app_context():
                db.create_all()
            client, now = app.test_client(), int(time.time())
            queries = []
            for i in range(requests):
                c, p, n = 100 + i % 500, 1000 + i % 200, f"{i:032x}"
                queries.append({"c": c, "p": p, "t": now, "n": n, "s": sign(secret, c, p, now, n)})
            t0 = time.perf_counter()
            codes = [client.get("/crm/beacon", query_string=q).status_code for q in queries]
            seconds = time.perf_counter() - t0
            refused = [client.get("/crm/beacon", query_string=dict(q, s="0" * 64)).status_code for q in queries[:500]]
            assert set(codes) == {204} and set(refused) == {403}
            t1 = time.perf_counter()
            for q in queries[:500]:
                client.get("/crm/beacon", query_string=dict(q, s="0" * 64))
            forged = (time.perf_counter() - t1) / 500
            with app.app_context():
                db.engine.dispose()
            print(f"beacon on {label:<7}: {requests / seconds:6.0f} valid views/s ({seconds / requests * 1000:.2f} ms "
                  f"each, insert + commit), forged ones refused in {forged * 1000:.2f} ms (one process, test client)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--beacon-requests", type=int, default=2000)
    args = parser.parse_args()
    shop = demo.generate(seed=42, customers=args.customers, now=NOW)
    bench_extract(shop, args.repeat)
    bench_beacon(args.beacon_requests)


if __name__ == "__main__":
    main()
