"""The view beacon: signed views are stored, everything else is refused and stored nowhere;
the PHP snippet, run by the real ``php``, produces requests the endpoint accepts."""
from __future__ import annotations

import html
import math
import re
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.beacon.signing import sign
from shopcrm.beacon.store import beacon_views
from shopcrm.errors import ConfigError
from shopcrm.extensions import db
from shopcrm.models import ProductView
from shopcrm.segmentation.extract import extract
from shopcrm.segmentation.params import InterestParams
from shopcrm.shop import connect_shop, current_mapping
from tests.support.apps import DEMO_NOW, TEST_SECRET, base_config, dispose, migrate, need_service
from tests.support.beacon import SECRET, query, stored

SNIPPET = Path(__file__).resolve().parents[2] / "deploy" / "php" / "shopcrm_beacon.php"


def test_a_signed_view_is_stored_and_answered_204_without_a_session(beacon_app):
    client = beacon_app.test_client()
    now = int(time.time())
    response = client.get("/crm/beacon", query_string=query(c=107, p=1005, t=now, n="ABCDEF0123456789"))
    assert response.status_code == 204 and response.data == b""
    assert "Set-Cookie" not in response.headers and response.headers["Cache-Control"] == "no-store"
    expected_time = datetime.fromtimestamp(now, timezone.utc).replace(tzinfo=None)
    assert stored(beacon_app) == [(107, 1005, expected_time, "abcdef0123456789")]


@pytest.mark.parametrize("change,status", [
    ({"s": "0" * 64}, 403),  # forged signature
    ({"p": "1006"}, 403),  # another product under the signature of the first
    ({"c": "0"}, 400), ({"c": "-5"}, 400), ({"c": "abc"}, 400), ({"c": "1" * 19}, 400), ({"c": ""}, 400),
    ({"p": "12.5"}, 400), ({"p": "007"}, 400),
    ({"n": "short"}, 400), ({"n": "g" * 16}, 400), ({"n": "a" * 33}, 400),
    ({"t": "soon"}, 400), ({"s": "not-hex"}, 400),
])
def test_forged_and_malformed_requests_are_refused_and_not_stored(beacon_app, change, status):
    args = query()
    args.update(change)
    response = beacon_app.test_client().get("/crm/beacon", query_string=args)
    assert response.status_code == status, response.data
    assert stored(beacon_app) == []


@pytest.mark.parametrize("offset", [-301, 301, -86400 * 30])
def test_stale_and_future_times_are_refused(beacon_app, offset):
    response = beacon_app.test_client().get("/crm/beacon", query_string=query(t=int(time.time()) + offset))
    assert response.status_code == 403 and b"stale or future" in response.data
    assert stored(beacon_app) == []


def test_the_window_is_a_setting(make_app):
    app = make_app(SHOPCRM_BEACON_SECRET=SECRET, SHOPCRM_BEACON_WINDOW_SECONDS=3600)
    response = app.test_client().get("/crm/beacon", query_string=query(t=int(time.time()) - 1800))
    assert response.status_code == 204


def test_a_replayed_request_is_refused(beacon_app):
    client = beacon_app.test_client()
    args = query()
    assert client.get("/crm/beacon", query_string=args).status_code == 204
    again = client.get("/crm/beacon", query_string=args)
    assert again.status_code == 409 and len(stored(beacon_app)) == 1
    upper = dict(args, n=args["n"].upper(), s=sign(SECRET, args["c"], args["p"], args["t"], args["n"].upper()))
    assert client.get("/crm/beacon", query_string=upper).status_code == 409  # the same nonce in capitals
    assert len(stored(beacon_app)) == 1


def test_replays_are_refused_on_mariadb_too(mariadb_database, tmp_path):
    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=mariadb_database("crm"),
                                 SHOPCRM_BEACON_SECRET=SECRET))
    migrate(app)
    try:
        client, args = app.test_client(), query()
        assert client.get("/crm/beacon", query_string=args).status_code == 204
        assert client.get("/crm/beacon", query_string=args).status_code == 409
        assert len(stored(app)) == 1
    finally:
        dispose(app)


def test_the_beacon_is_off_without_a_secret(app):
    assert app.test_client().get("/crm/beacon", query_string=query()).status_code == 404
    assert stored(app) == []


def test_each_client_is_rate_limited(make_app):
    app = make_app(SHOPCRM_BEACON_SECRET=SECRET, SHOPCRM_BEACON_RATE_PER_MINUTE=3)
    client = app.test_client()
    codes = [client.get("/crm/beacon", query_string=query(n=f"{i:016x}"),
                        environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code for i in range(5)]
    assert codes == [204, 204, 204, 429, 429]
    other = client.get("/crm/beacon", query_string=query(n="f" * 16), environ_base={"REMOTE_ADDR": "198.51.100.2"})
    assert other.status_code == 204 and len(stored(app)) == 4


def test_the_rate_limit_starts_again_each_minute_and_forgets_old_windows(app):
    from shopcrm.models import Throttle
    from shopcrm.throttle import WindowLimit

    limiter = WindowLimit("beacon", limit=2, period=60)
    with app.app_context():
        assert [limiter.allow("a", now=600), limiter.allow("a", now=601), limiter.allow("a", now=602)] == [
            True, True, False]
        assert limiter.allow("a", now=661)  # a new minute
        for i in range(50):
            limiter.allow(f"client{i}", now=662)
        limiter.allow("b", now=800)  # two minutes on: the old windows are deleted
        assert db.session.query(Throttle).filter_by(scope="beacon").count() <= 2


@pytest.mark.parametrize("secret,message", [(None, None), ("short", "too weak"), ("change-me", "too weak"),
                                            (TEST_SECRET, "must differ from SECRET_KEY")])
def test_a_production_beacon_needs_a_real_secret_of_its_own(tmp_path, secret, message):
    config = base_config(tmp_path, TESTING=False, SHOPCRM_ENV="production", SHOPCRM_BEACON_SECRET=secret)
    if message is None:
        create_app(config)  # no secret: the beacon is off, nothing to check
        return
    with pytest.raises(ConfigError, match=message):
        create_app(config)


# --- the PHP snippet, run by php ---------------------------------------------------------------------

def run_php(code: str, cwd: Path | None = None) -> str:
    php = shutil.which("php")
    if php is None:
        need_service("php", "the php command (Debian: php-cli) is not installed; scripts/setup-system.sh installs it")
    result = subprocess.run([php, "-d", "display_errors=stderr", "-r", code], capture_output=True, text=True,
                            timeout=30, cwd=cwd)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return result.stdout


def php_tag(customer, product, secret=SECRET, url="http://shop.test/crm/beacon", snippet=SNIPPET) -> str:
    return run_php(f"define('SHOPCRM_BEACON_SECRET', '{secret}'); define('SHOPCRM_BEACON_URL', '{url}');"
                   f"require '{snippet}'; echo shopcrm_beacon_tag({customer}, {product});")


def beacon_request(tag: str) -> tuple[str, dict]:
    match = re.fullmatch(r'<img src="([^"]+)" width="1" height="1" alt="" hidden referrerpolicy="no-referrer">', tag)
    assert match, tag
    url = urlsplit(html.unescape(match.group(1)))
    return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}


def test_the_php_snippet_emits_a_request_the_endpoint_accepts(beacon_app):
    path, args = beacon_request(php_tag(4711, "'1005'"))
    assert path == "/crm/beacon" and set(args) == {"c", "p", "t", "n", "s"}
    assert abs(int(args["t"]) - time.time()) < 60 and re.fullmatch(r"[0-9a-f]{32}", args["n"])
    client = beacon_app.test_client()
    assert client.get(path, query_string=args).status_code == 204
    assert [(r.customer_id, r.product_id) for r in stored(beacon_app)] == [(4711, 1005)]
    assert client.get(path, query_string=args).status_code == 409  # the same tag twice is a replay

    path, tampered = beacon_request(php_tag(4711, 1005))
    tampered["c"] = "4712"  # someone else's view under this signature
    assert client.get(path, query_string=tampered).status_code == 403
    path, wrong_key = beacon_request(php_tag(4711, 1005, secret="another-secret-0123456789"))
    assert client.get(path, query_string=wrong_key).status_code == 403
    assert len(stored(beacon_app)) == 1


def test_the_php_snippet_gives_guests_and_bad_ids_no_tag():
    for customer, product in [(0, 1005), ("''", 1005), ("null", 1005), (12, 0), (12, "'12abc'"), (-3, 5)]:
        assert php_tag(customer, product) == "", (customer, product)
    assert php_tag(12, 1005, secret="paste-the-secret-from-shopcrm-here") == ""  # the example placeholder


def test_the_php_snippet_reads_its_configuration_file(tmp_path, beacon_app):
    shutil.copy(SNIPPET, tmp_path / "shopcrm_beacon.php")
    example = (SNIPPET.parent / "shopcrm_beacon_config.example.php").read_text()
    (tmp_path / "shopcrm_beacon_config.php").write_text(
        example.replace("paste-the-secret-from-shopcrm-here", SECRET)
        .replace("https://shop.example.com/crm/beacon", "https://shop.test/crm/beacon"))
    tag = run_php(f"require '{tmp_path / 'shopcrm_beacon.php'}'; echo shopcrm_beacon_tag(33, 1005);")
    path, args = beacon_request(tag)
    assert beacon_app.test_client().get(path, query_string=args).status_code == 204


# --- beacon views as interest ----------------------------------------------------------------------

def store_views(rows, as_of: datetime) -> None:
    """Views as the beacon stores them: (customer, product, days before ``as_of``) each."""
    db.session.execute(ProductView.__table__.insert(), [
        {"customer_id": c, "product_id": p, "nonce": f"{i:016x}", "received_at": as_of,
         "viewed_at": (as_of - timedelta(days=d)).astimezone(timezone.utc).replace(tzinfo=None)}
        for i, (c, p, d) in enumerate(rows)])
    db.session.commit()


def test_beacon_views_become_decayed_category_scores(make_app):
    app = make_app(SHOPCRM_SHOP_VIEWS="beacon")
    as_of = DEMO_NOW
    rows = [  # customer, product, days ago
        (107, 1001, 0.0), (107, 1002, 30.0), (107, 1021, 60.0),  # 1001/1002 Running (1), 1021 Sports nutrition (2)
        (107, 999999, 1.0),  # a product the shop does not have
        (114, 1001, -2.0),  # in the future
        (114, 1001, 400.0),  # beyond the horizon
        (114, 1003, 10.0),
    ]
    with app.app_context():
        store_views(rows, as_of)
        with connect_shop() as shop, db.engine.connect() as crm:
            scores = beacon_views(crm, shop, current_mapping(), as_of, InterestParams().half_life_days,
                                  InterestParams().horizon_days).categories
    got = {(int(c), int(k)): s for c, k, s in scores}
    assert set(got) == {(107, 1), (107, 2), (114, 1)}
    assert math.isclose(got[(107, 1)], 1.0 + 0.5, rel_tol=1e-9)
    assert math.isclose(got[(107, 2)], 0.25, rel_tol=1e-9)
    assert math.isclose(got[(114, 1)], 2 ** (-10 / 30), rel_tol=1e-9)
    assert np.all(scores[:, 2] > 0)


def test_the_scratch_table_is_gone_when_the_connection_rolls_back(make_app):
    """The products' scratch table must not come back on a pooled connection that is rolled back
    as it returns to the pool (on SQLite its DROP sat in the INSERT's transaction): the next
    run on that connection would find it there and fail."""
    app = make_app(SHOPCRM_SHOP_VIEWS="beacon")
    params = InterestParams()
    with app.app_context():
        store_views([(107, 1001, 0.0)], DEMO_NOW)
        with connect_shop() as shop, db.engine.connect() as crm:
            first = beacon_views(crm, shop, current_mapping(), DEMO_NOW, params.half_life_days, params.horizon_days)
            crm.rollback()
            temp = crm.exec_driver_sql("SELECT name FROM sqlite_temp_master WHERE type = 'table'").scalars().all()
            again = beacon_views(crm, shop, current_mapping(), DEMO_NOW, params.half_life_days, params.horizon_days)
    assert temp == []
    assert first.categories.tolist() == again.categories.tolist() != []


def test_beacon_only_views_give_brand_interest_and_visit_months(make_app):
    """A shop whose views come only from the beacon: its views count for brands and for the
    visitors per month as well as for categories, as the shop's own browsing would."""
    app = make_app(SHOPCRM_SHOP_VIEWS="beacon")
    as_of = DEMO_NOW
    rows = [(107, 1001, 0.0), (107, 1021, 40.0), (107, 1002, 70.0), (114, 1003, 10.0)]  # customer, product, days ago
    with app.app_context():
        store_views(rows, as_of)
        mapping = current_mapping()
        params = InterestParams()
        with connect_shop() as shop, db.engine.connect() as crm:
            views = beacon_views(crm, shop, mapping, as_of, params.half_life_days, params.horizon_days)
            brand_of = dict(shop.execute(sa.text("SELECT product_id, brand_id FROM products")).all())
        with connect_shop() as shop:
            without = extract(shop, mapping, as_of, params)
            with_views = extract(shop, mapping, as_of, params, extra_views=views)
    as_of_utc = as_of.astimezone(timezone.utc)
    expected_months = {(c, (as_of_utc.year * 12 + as_of_utc.month)
                        - ((v := (as_of - timedelta(days=d)).astimezone(timezone.utc)).year * 12 + v.month))
                       for c, _, d in rows}
    assert {(int(c), int(m)) for c, m in views.months} == expected_months
    assert {(int(c), int(b)) for c, b, _ in views.brands} == {(c, brand_of[p]) for c, p, _ in rows}
    row = {int(c): i for i, c in enumerate(with_views.customer_ids)}
    for customer in (107, 114):
        i = row[customer]
        months = {m for c, m in expected_months if c == customer}
        assert int(with_views.visit_months[i]) & sum(1 << m for m in months) == sum(1 << m for m in months)
        assert with_views.brand_interest[i].sum() > without.brand_interest[i].sum()
        assert with_views.interest[i].sum() > without.interest[i].sum()
