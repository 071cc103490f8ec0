"""A real purchase history as a shop: CDNOW's 2,357 customers (tests/data), segmented as of
1 April 1998, exported, and the export compared with what they spent in the 90 days after.

CDNOW is a purchase-only shop (one category, no views or carts), so it also runs the path the
new user of the issue took.
"""
import csv
import io
from datetime import date, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from shopcrm import demo
from shopcrm.demo.generator import DemoShop
from shopcrm.mining.backtest import auc, top_share
from tests.support import cdnow

AS_OF = date(1998, 4, 1)
HORIZON = 90


def cdnow_shop() -> DemoShop:
    raw = np.loadtxt(cdnow.DATA / "CDNOW_sample.txt")
    customer, stamp, cds, value = raw[:, 1].astype(int), raw[:, 2].astype(int), raw[:, 3].astype(int), raw[:, 4]
    placed = [datetime(s // 10000, s // 100 % 100, s % 100, 12, 0) for s in stamp]
    ids = np.arange(1, cdnow.CUSTOMERS + 1)
    first = {}
    for c, p in zip(customer, placed):
        first[c] = min(first.get(c, p), p)
    n, orders = len(ids), len(customer)

    def col(values, dtype=object):
        return np.array(values, dtype=dtype)

    text = lambda value: col([value] * n)  # noqa: E731
    tables = {
        "customers": {"customer_id": ids, "email": col([f"fan{i}@cdnow.test" for i in ids]),
                      "first_name": text("Fan"), "last_name": text("CDNOW"), "city": text(None),
                      "region": text(None), "country": text("US"), "source": text("organic"),
                      "newsletter": col([1] * n, int), "active": col([1] * n, int),
                      "created_at": col([(first[i] - timedelta(hours=1)).isoformat(sep=" ") for i in ids])},
        "categories": {"category_id": col([1], int), "name": col(["Music"]), "parent_id": col([None])},
        "brands": {"brand_id": col([], int), "name": col([])},
        "products": {"product_id": col([1], int), "name": col(["CD"]), "category_id": col([1], int),
                     "brand_id": col([None]), "price": col([15.0], float), "url": col(["/cd"]),
                     "image_url": col([None]), "active": col([1], int), "stock": col([1], int)},
        "product_views": {"view_id": col([], int), "customer_id": col([], int), "product_id": col([], int),
                          "viewed_at": col([])},
        "cart_items": {"cart_item_id": col([], int), "customer_id": col([], int), "product_id": col([], int),
                       "quantity": col([], int), "added_at": col([])},
        "orders": {"order_id": np.arange(1, orders + 1), "customer_id": customer,
                   "placed_at": col([p.isoformat(sep=" ") for p in placed]), "total": value,
                   "status": col(["complete"] * orders)},
        "order_lines": {"order_line_id": np.arange(1, orders + 1), "order_id": np.arange(1, orders + 1),
                        "product_id": col([1] * orders, int), "quantity": np.maximum(cds, 1),
                        "unit_price": np.round(value / np.maximum(cds, 1), 2)},
    }
    return DemoShop(now=datetime(1998, 7, 1), tables=tables, persona=np.array([]), tier=np.array([]))


@pytest.fixture(scope="module")
def cdnow_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cdnow") / "shop.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    demo.write(engine, cdnow_shop())
    engine.dispose()
    return path


def test_the_export_of_a_real_history_against_the_next_90_days(make_app, cdnow_file, tmp_path, record_property):
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{cdnow_file}")
    cli = app.test_cli_runner()
    segmented = cli.invoke(args=["shopcrm", "segment", "--as-of", AS_OF.isoformat(), "--quiet"])
    assert segmented.exit_code == 0, segmented.output
    assert "one category (Music)" in segmented.output  # a purchase-only shop, said so
    out = tmp_path / "customers.csv"
    assert cli.invoke(args=["shopcrm", "export", "customers", "-o", str(out)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == cdnow.CUSTOMERS

    customer, age, total = cdnow.purchases()  # days before 1 July 1998
    cutoff = (cdnow.AS_OF - AS_OF).days
    after = (age < cutoff) & (age >= cutoff - HORIZON)
    revenue = np.bincount(customer[after], weights=total[after], minlength=cdnow.CUSTOMERS)
    rows.sort(key=lambda r: int(r["customer_id"]))
    figure = {name: np.array([float(r[name]) if r[name] else np.nan for r in rows])
              for name in ("expected_value", "expected_orders", "p_alive", "churn_score")}
    rfm = np.array([sum(int(r[k]) for k in ("rfm_r", "rfm_f", "rfm_m")) for r in rows], dtype=float)
    high_value = np.array([r["value_type"] == "High value" for r in rows], dtype=float)
    places = int(high_value.sum())
    shares = {"expected value": top_share(figure["expected_value"], revenue, count=places),
              "high value type": top_share(high_value, revenue, count=places),
              "RFM sum": top_share(rfm, revenue, count=places),
              "ceiling": top_share(revenue, revenue, count=places)}
    churn_auc = auc(figure["churn_score"], revenue == 0)
    line = (f"CDNOW as of {AS_OF}: next {HORIZON} days' revenue {revenue.sum():,.0f} $, predicted "
            f"{np.nansum(figure['expected_value']):,.0f} $; top {places} customers by "
            + ", ".join(f"{k} {v:.1%}" for k, v in shares.items()) + f"; churn score AUC {churn_auc:.3f}")
    print(line)
    record_property("cdnow export", line)
    assert shares["expected value"] >= shares["high value type"] - 0.01
    assert shares["expected value"] >= shares["RFM sum"] - 0.03
    assert 0.5 < np.nansum(figure["expected_value"]) / revenue.sum() < 1.5  # the total is of the right size
    assert churn_auc > 0.7
    bought = np.bincount(customer[after], minlength=cdnow.CUSTOMERS) > 0
    assert auc(figure["expected_orders"], bought) > 0.7
