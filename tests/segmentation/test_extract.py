"""The extraction SQL equals a plain-Python computation of the same definitions, on SQLite and MariaDB."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from shopcrm import demo
from shopcrm.beacon.store import BeaconViews
from shopcrm.mining.features import MONTHS, decay
from shopcrm.segmentation.extract import ShopExtract, extract
from shopcrm.segmentation.params import InterestParams, OrderParams
from shopcrm.shop import readers
from shopcrm.shop.presets import preset
from shopcrm.shop.presets.generic import VALID_ORDER_STATUSES
from shopcrm.shop.readonly import install_guard

AS_OF = datetime(2026, 6, 1, 12, 0, 0)
PARAMS = InterestParams(weight_view=1.0, weight_cart=3.0, weight_purchase=5.0, half_life_days=30.0,
                                horizon_days=365)
ORDER_PARAMS = OrderParams(window_days=365, growth_days=90)


def reference(tables: dict, as_of: datetime, params=PARAMS, order_params=ORDER_PARAMS) -> dict:
    """The definitions, written the slow and obvious way: loops over rows."""

    def ts(value):
        return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))

    def age(value):
        return (as_of - ts(value)).total_seconds() / 86400.0

    customers = tables["customers"]
    active = {int(c): a for c, a in zip(customers["customer_id"], customers["active"])}
    ids = sorted(c for c, a in active.items() if int(a) == 1)
    known = set(ids)
    created = {int(c): t for c, t in zip(customers["customer_id"], customers["created_at"])}
    category_of = {int(p): int(c) for p, c in zip(tables["products"]["product_id"], tables["products"]["category_id"])}
    brand_of = {int(p): int(b) for p, b in zip(tables["products"]["product_id"], tables["products"]["brand_id"])
                if b is not None}
    valid = {int(o): (int(c), t, float(total)) for o, c, t, total, s in zip(
        tables["orders"]["order_id"], tables["orders"]["customer_id"], tables["orders"]["placed_at"],
        tables["orders"]["total"], tables["orders"]["status"]) if s in VALID_ORDER_STATUSES}
    scores: dict[tuple[int, int], float] = {}
    brand_scores: dict[tuple[int, int], float] = {}
    visits: dict[int, set] = {}

    def add(customer, product, when, weight):
        if customer is None or product is None or int(product) not in category_of:
            return
        a = age(when)
        if a < 0 or a >= params.horizon_days or int(customer) not in known:
            return
        key = (int(customer), category_of[int(product)])
        scores[key] = scores.get(key, 0.0) + weight * 2 ** (-a / params.half_life_days)
        if int(product) in brand_of:
            key = (int(customer), brand_of[int(product)])
            brand_scores[key] = brand_scores.get(key, 0.0) + weight * 2 ** (-a / params.half_life_days)

    v = tables["product_views"]
    for c, p, t in zip(v["customer_id"], v["product_id"], v["viewed_at"]):
        add(c, p, t, params.weight_view)
        if c is not None and p is not None and int(c) in known and 0 <= age(t) < params.horizon_days:
            # visitors per month count every view of a known customer, even of a deleted product
            visits.setdefault(int(c), set()).add((as_of.year - ts(t).year) * 12 + as_of.month - ts(t).month)
    ci = tables["cart_items"]
    for c, p, t in zip(ci["customer_id"], ci["product_id"], ci["added_at"]):
        add(c, p, t, params.weight_cart)
    ol = tables["order_lines"]
    for o, p in zip(ol["order_id"], ol["product_id"]):
        if int(o) in valid:
            customer, when, _ = valid[int(o)]
            add(customer, p, when, params.weight_purchase)

    orders: dict[int, list] = {}
    for customer, when, total in valid.values():
        if age(when) >= 0:
            orders.setdefault(customer, []).append((age(when), total))
    features = {}
    for customer, rows in orders.items():
        ages = [a for a, _ in rows]
        features[customer] = dict(
            orders_total=len(rows), recency_days=min(ages), first_order_days=max(ages),
            frequency=sum(1 for a in ages if a < order_params.window_days),
            monetary=sum(t for a, t in rows if a < order_params.window_days),
            recent_spend=sum(t for a, t in rows if a < order_params.growth_days))
    where = {int(c): (ci, r, co, so) for c, ci, r, co, so in zip(
        customers["customer_id"], customers["city"], customers["region"], customers["country"], customers["source"])}
    lines = sorted((int(o), int(p), int(q), float(u)) for o, p, q, u in zip(
        tables["order_lines"]["order_id"], tables["order_lines"]["product_id"], tables["order_lines"]["quantity"],
        tables["order_lines"]["unit_price"])
        if int(o) in valid and valid[int(o)][0] in known and int(p) in category_of and age(valid[int(o)][1]) >= 0
        and age(valid[int(o)][1]) < order_params.history_days)
    return {"ids": ids, "age": {c: max(age(created[c]), 0.0) for c in ids}, "scores": scores, "orders": features,
            "brand_scores": brand_scores, "visits": visits, "where": {c: where[c] for c in ids}, "lines": lines}


def assert_matches(ex: ShopExtract, ref: dict) -> None:
    assert ex.customer_ids.tolist() == ref["ids"]
    for i, c in enumerate(ex.customer_ids.tolist()):
        assert (ex.city[i], ex.region[i], ex.country[i], ex.source[i]) == ref["where"][c]
        months = {m for m in range(MONTHS) if int(ex.visit_months[i]) >> m & 1}
        assert months == ref["visits"].get(c, set()), c
    brands = {(int(c), int(b)): ex.brand_interest[i, j] for i, c in enumerate(ex.customer_ids)
              for j, b in enumerate(ex.brand_ids) if ex.brand_interest[i, j]}
    assert set(brands) == set(ref["brand_scores"])
    for key, value in ref["brand_scores"].items():
        assert math.isclose(brands[key], value, rel_tol=1e-5), key
    lines = sorted((int(ex.orders.ids[o]), int(ex.catalog.product_ids[p]), int(q), float(u)) for o, p, q, u in zip(
        ex.lines.order, ex.lines.product, ex.lines.quantity, ex.lines.unit_price))
    assert lines == ref["lines"]
    np.testing.assert_allclose(ex.account_age_days, [ref["age"][c] for c in ref["ids"]], rtol=1e-6, atol=1e-4)
    got = {}
    for i, c in enumerate(ex.customer_ids):
        for j, cat in enumerate(ex.category_ids):
            if ex.interest[i, j]:
                got[(int(c), int(cat))] = ex.interest[i, j]
    assert set(got) == set(ref["scores"])
    for key, value in ref["scores"].items():
        assert math.isclose(got[key], value, rel_tol=1e-5), key
    for i, c in enumerate(ex.customer_ids):
        f = ref["orders"].get(int(c))
        if f is None:
            assert ex.orders_total[i] == 0 and np.isnan(ex.recency_days[i]) and ex.monetary[i] == 0
            continue
        assert ex.orders_total[i] == f["orders_total"] and ex.frequency[i] == f["frequency"]
        assert math.isclose(ex.recency_days[i], f["recency_days"], abs_tol=1e-4)
        assert math.isclose(ex.first_order_days[i], f["first_order_days"], abs_tol=1e-4)
        assert math.isclose(ex.monetary[i], f["monetary"], abs_tol=1e-6)
        assert math.isclose(ex.recent_spend[i], f["recent_spend"], abs_tol=1e-6)


def small_shop() -> dict:
    """A hand-made shop with every edge the extraction must get right."""
    t = lambda days: (AS_OF - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
    return {
        "customers": {
            "customer_id": [10, 20, 30, 40, 50], "email": ["a@x.org", None, "c@x.org", "d@x.org", "e@x.org"],
            "first_name": ["Ann", "Bo", "Cy", "Di", "Ed"], "last_name": ["A", "B", "C", "D", "E"],
            "city": ["Berlin"] * 5, "region": ["Berlin"] * 5, "country": ["DE"] * 5, "source": ["organic"] * 5,
            "newsletter": [1, 1, 0, 1, 1], "active": [1, 1, 1, 1, 0],
            "created_at": [t(400), t(100), t(10), t(90), t(200)],
        },
        "categories": {"category_id": [1, 2, 3], "name": ["Running", "Kitchen", "Books"], "parent_id": [None] * 3},
        "brands": {"brand_id": [1], "name": ["Stride"]},
        "products": {
            "product_id": [100, 101, 200, 300], "name": ["Shoe", "<b>Sock</b>", "Pan", "Novel"],
            "category_id": [1, 1, 2, 3], "brand_id": [1, 1, None, None], "price": [80.0, 5.0, 0.0, 12.5],
            "url": ["/p/100", "/p/101", "/p/200", "/p/300"], "image_url": [None] * 4, "active": [1, 1, 1, 0],
            "stock": [1, 1, 1, 1],
        },
        "product_views": {
            "view_id": list(range(1, 12)),
            "customer_id": [10, 10, 10, 20, 20, None, 999, 30, 10, 40, 50],
            "product_id": [100, 101, 200, 200, 300, 100, 100, 777, 100, 300, 100],
            # 30 days (half weight), 0 days, 400 days (beyond the horizon), -2 days (future): all edges
            "viewed_at": [t(30), t(0), t(400), t(5.5), t(364.9), t(1), t(1), t(1), t(-2), t(45), t(1)],
        },
        "cart_items": {"cart_item_id": [1, 2, 3], "customer_id": [20, 30, 40], "product_id": [200, 300, 101],
                       "quantity": [1, 2, 1], "added_at": [t(2), t(1), t(0.25)]},
        "orders": {  # 7 to 9: exactly on the edges of the value, growth and history windows
            "order_id": [1, 2, 3, 4, 5, 6, 7, 8, 9],
            "customer_id": [10, 10, 20, 40, 999, 10, 20, 20, 30],
            "placed_at": [t(10), t(200), t(80), t(500), t(3), t(1), t(365), t(90), t(730)],
            "total": [85.0, 12.5, 0.0, 40.0, 10.0, 99.0, 7.0, 11.0, 13.0],
            "status": ["complete", "complete", "processing", "complete", "complete", "cancelled", "complete",
                       "complete", "complete"],
        },
        "order_lines": {
            "order_line_id": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            "order_id": [1, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            "product_id": [100, 101, 300, 200, 100, 100, 100, 300, 200, 300],
            "quantity": [1, 1, 1, 2, 1, 1, 1, 1, 1, 1],
            "unit_price": [80.0, 5.0, 12.5, 0.0, 40.0, 10.0, 99.0, 7.0, 11.0, 13.0],
        },
    }


def write_tables(engine: sa.Engine, tables: dict) -> None:
    shop = demo.DemoShop(now=AS_OF, tables={k: {c: np.array(v, dtype=object) for c, v in cols.items()}
                                             for k, cols in tables.items()},
                         persona=np.array([]), tier=np.array([]))
    demo.write(engine, shop, fast_load=False)


@pytest.fixture(params=["sqlite", "mariadb"])
def shop_engine_factory(request, tmp_path):
    engines = []

    def factory():
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'shop.db'}"
        else:
            url = request.getfixturevalue("mariadb_database")()
        writer = sa.create_engine(url, connect_args={"local_infile": True} if url.startswith("mysql") else {})
        engines.append(writer)
        return writer, url

    yield factory
    for engine in engines:
        engine.dispose()


def test_small_shop_extraction_equals_reference(shop_engine_factory):
    writer, url = shop_engine_factory()
    tables = small_shop()
    write_tables(writer, tables)
    reader = install_guard(sa.create_engine(url))
    with reader.connect() as conn:
        ex = extract(conn, preset("generic"), AS_OF, PARAMS, ORDER_PARAMS)
    reader.dispose()
    ref = reference(tables, AS_OF)
    assert_matches(ex, ref)
    # Spot checks of the definitions themselves, by hand:
    i10 = ex.customer_ids.tolist().index(10)
    running = ex.category_ids.tolist().index(1)
    # customer 10, Running: view 30 days ago (0.5), view now (1.0), purchase of 2 lines 10 days ago
    expected = 0.5 + 1.0 + 5 * 2 * 2 ** (-10 / 30)
    assert math.isclose(ex.interest[i10, running], expected, rel_tol=1e-6)
    assert 50 not in ex.customer_ids  # inactive customer
    assert ex.counts["view_orphan_rows"] >= 1  # customer 999 is not a customer
    i40 = ex.customer_ids.tolist().index(40)
    assert ex.frequency[i40] == 0 and ex.orders_total[i40] == 1  # bought, but before the window
    # One rule for every window's edge: exactly d days old is outside a window of d days.
    i20, books = ex.customer_ids.tolist().index(20), ex.category_ids.tolist().index(3)
    kitchen = ex.category_ids.tolist().index(2)
    assert ex.orders_total[i20] == 3 and ex.frequency[i20] == 2  # 80 and 90 days in, 365 out
    assert ex.monetary[i20] == 11.0 and ex.recent_spend[i20] == 0.0  # the order of exactly 90 days: not recent
    # the 365-day purchase (a Novel) adds no interest, as the 364.9-day view of one does
    assert math.isclose(ex.interest[i20, books], 2 ** (-364.9 / 30), rel_tol=1e-5)
    assert ex.interest[i20, kitchen] > 0  # the Pan bought 90 days ago and carted 2 days ago
    bought_730 = ex.orders.ids.tolist().index(9)
    assert bought_730 not in ex.lines.order.tolist()  # exactly the history's length old: its lines are not read


def test_demo_shop_extraction_equals_reference(shop_engine_factory, demo_shop):
    writer, url = shop_engine_factory()
    demo.write(writer, demo_shop)
    reader = install_guard(sa.create_engine(url))
    as_of = demo_shop.now
    with reader.connect() as conn:
        ex = extract(conn, preset("generic"), as_of, PARAMS, ORDER_PARAMS)
    reader.dispose()
    tables = {name: {col: list(values) for col, values in cols.items()} for name, cols in demo_shop.tables.items()}
    assert_matches(ex, reference(tables, as_of))


def test_mapping_subqueries_compile_the_same_every_time():
    """A stable statement lets SQLAlchemy reuse its compiled form (no recompiling, no cache churn)."""
    mapping = preset("generic")
    keys = [sa.select(mapping.source(entity))._generate_cache_key() for entity in ("customer", "order")
            for _ in range(10)]
    assert all(k == keys[0] for k in keys[:10]) and all(k == keys[10] for k in keys[10:])


def view_scores(conn, as_of) -> np.ndarray:
    """Rows (customer, category, decayed view count): the shape ``extract`` takes as extra views."""
    mapping = preset("generic")
    catalog = readers.read_catalog(conn, mapping)
    scores: dict[tuple[int, int], float] = {}
    for keys, per_customer, product, age in readers.event_chunks(conn, mapping, "view", as_of, PARAMS.horizon_days):
        pos, found = catalog.locate(product)
        column = np.where(found, catalog.product_category[pos], -1)
        weight = decay(age / 86400, PARAMS.half_life_days)
        for customer, col, w in zip(np.repeat(keys, per_customer), column, weight):
            if col >= 0:
                key = (int(customer), int(catalog.category_ids[col]))
                scores[key] = scores.get(key, 0.0) + float(w)
    return np.array([(c, k, v) for (c, k), v in sorted(scores.items())], dtype=np.float64).reshape(-1, 3)


def test_restricted_extraction_and_extra_views_match_the_full_one(shop_engine_factory, demo_shop):
    writer, url = shop_engine_factory()
    demo.write(writer, demo_shop)
    reader = install_guard(sa.create_engine(url))
    as_of = demo_shop.now
    with reader.connect() as conn:
        full = extract(conn, preset("generic"), as_of, PARAMS, ORDER_PARAMS)
        some = full.customer_ids[::97].tolist() + [987654321]  # and an id the shop does not have
        part = extract(conn, preset("generic"), as_of, PARAMS, ORDER_PARAMS, only_customers=some)
        views = view_scores(conn, as_of)
    reader.dispose()
    rows = np.searchsorted(full.customer_ids, part.customer_ids)
    assert part.customer_ids.tolist() == some[:-1]
    for name in ("interest", "brand_interest", "visit_months", "recency_days", "monetary", "frequency", "orders_total"):
        value = getattr(part, name)  # interest is float32: summed in another order, the last digit may differ
        np.testing.assert_allclose(value, getattr(full, name)[rows], rtol=1e-6 if value.dtype == np.float32 else 1e-9,
                                   err_msg=name)
    assert len(part.lines) == sum(np.isin(full.orders.customer[full.lines.order], rows))
    # The view scores (unweighted) are the shop's own browsing: fed back as extra views they double it.
    with install_guard(sa.create_engine(url)).connect() as conn:
        doubled = extract(conn, preset("generic"), as_of, PARAMS, ORDER_PARAMS,
                          extra_views=BeaconViews(views, np.empty((0, 3)), np.empty((0, 2))))
    views_only = np.zeros_like(full.interest)
    cols = np.searchsorted(full.category_ids, views[:, 1].astype(int))
    known = np.isin(views[:, 0].astype(int), full.customer_ids)
    np.add.at(views_only, (np.searchsorted(full.customer_ids, views[known, 0].astype(int)), cols[known]),
              views[known, 2])
    np.testing.assert_allclose(doubled.interest, full.interest + PARAMS.weight_view * views_only, rtol=1e-6)


def test_a_packed_group_longer_than_the_server_allows_is_read_again(mariadb_database, demo_shop):
    url = mariadb_database()
    writer = sa.create_engine(url, connect_args={"local_infile": True})
    demo.write(writer, demo_shop)
    writer.dispose()
    reader = install_guard(sa.create_engine(url))
    with reader.connect() as conn:
        readers.prepare_packing(conn)
        whole = list(readers.event_chunks(conn, preset("generic"), "view", AS_OF, 365))
        conn.exec_driver_sql("SET SESSION group_concat_max_len = 200")  # most groups come back cut short
        refetched = list(readers.event_chunks(conn, preset("generic"), "view", AS_OF, 365))
    reader.dispose()

    def events(chunks):
        return sorted((int(c), int(p), int(a)) for keys, counts, products, ages in chunks
                      for c, p, a in zip(np.repeat(keys, counts), products, ages))

    assert len(refetched) > len(whole)  # short groups were read again one by one
    assert events(refetched) == events(whole) and len(events(whole)) > 10_000


def test_index_advice_names_the_indexes_the_extraction_needs(tmp_path, demo_shop):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    writer = sa.create_engine(url)
    demo.write(writer, demo.generate(seed=2, customers=30, now=AS_OF))
    mapping = preset("generic")
    advice = {a["entity"]: a for a in readers.index_advice(mapping)}
    assert advice["view"]["table"] == "product_views"
    assert advice["view"]["columns"] == ["customer_id", "product_id", "viewed_at"]
    reader = install_guard(sa.create_engine(url))
    assert advice["order"]["columns"] == ["customer_id", "placed_at", "total", "status"]  # and its filter
    with reader.connect() as conn:  # the demo schema lacks only the orders index (the doctor advises it too)
        assert {m["entity"] for m in readers.missing_indexes(conn, mapping)} == {"order"}
    with writer.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_product_views_customer")
    with reader.connect() as conn:
        assert {m["entity"] for m in readers.missing_indexes(conn, mapping)} == {"order", "view"}
        assert [m["entity"] for m in readers.missing_indexes(conn, mapping, ["view"])] == ["view"]
    reader.dispose()
    writer.dispose()
