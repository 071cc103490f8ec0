"""What a mapping declares about the shop itself ([shop] timezone, views = "none", and
SHOPCRM_SHOP_VIEWS = none for presets) and what the doctor makes of it: the clock the shop's
times are read on, browsing data off by choice without beacon advice, and a shop whose newest
activity is older than the analysis window."""
from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from shopcrm.clock import shop_now
from shopcrm.errors import MappingError
from shopcrm.extensions import db
from shopcrm.models import Run
from shopcrm.shop import connect_shop, current_mapping, load_mapping
from shopcrm.shop.doctor import examine
from shopcrm.shop.mapping_file import declared_timezone, load_mapping_file
from shopcrm.shop.presets import preset
from tests.support.apps import DEMO_NOW

GENERIC_FILE = """
[mapping]
base = "generic"
{extra}
"""


def write(tmp_path, text: str, name: str = "shop.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=["shopcrm", *args])
    assert "Traceback" not in result.output, result.output
    return result


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --- [shop] in a mapping file ---------------------------------------------------------------------

def test_the_shop_section_is_read_and_checked(tmp_path):
    mapping = load_mapping_file(write(tmp_path, GENERIC_FILE.format(extra='[shop]\ntimezone = "UTC"\nviews = "none"')))
    assert mapping.timezone == "UTC" and mapping.views_off and "view" not in mapping.entities
    assert not mapping.has("view") and not mapping.reads_crm("view")
    plain = load_mapping_file(write(tmp_path, GENERIC_FILE.format(extra="")))
    assert plain.timezone is None and not plain.views_off and plain.has("view")


@pytest.mark.parametrize("extra,message", [
    ('[shop]\ntimezone = "Mars/Olympus"', "[shop], field 'timezone': unknown time zone 'Mars/Olympus'"),
    ('[shop]\ntimezone = 1', "[shop], field 'timezone': must be a string"),
    ('[shop]\nviews = "beacon"', "[shop], field 'views': the only value is \"none\""),
    ('[shop]\nzone = "UTC"', "[shop], field 'zone': unknown key (known: timezone, views)"),
    ('[shop]\nviews = "none"\n[view]\nstore = "crm"', "views = \"none\" says the shop keeps no product views, but the "
                                                   "entity 'view' is mapped too"),
])
def test_mistakes_in_the_shop_section_name_the_file_and_the_field(tmp_path, extra, message):
    path = write(tmp_path, GENERIC_FILE.format(extra=extra))
    with pytest.raises(MappingError) as info:
        load_mapping_file(path)
    assert str(path) in str(info.value) and message in str(info.value), str(info.value)
    assert declared_timezone(path) is None  # the app still starts; loading the mapping names the mistake


def test_a_declared_timezone_sets_the_shop_clock_unless_the_setting_says_otherwise(tmp_path, make_app):
    path = write(tmp_path, GENERIC_FILE.format(extra='[shop]\ntimezone = "Asia/Tokyo"'))
    app = make_app(SHOPCRM_SHOP_MAPPING_FILE=str(path), SHOPCRM_SHOP_TIMEZONE="Europe/Lisbon")
    tokyo = datetime.now(timezone(timedelta(hours=9))).replace(tzinfo=None)
    with app.app_context():
        assert app.config["SHOPCRM_SHOP_DB_TIMEZONE"] == "Asia/Tokyo"
        assert abs(shop_now() - tokyo) < timedelta(seconds=5)
        report = cli(app, "doctor").output
    assert "times: the shop's stored times are read as Asia/Tokyo ([shop] timezone of the mapping file)" in report

    app = make_app(SHOPCRM_SHOP_MAPPING_FILE=str(path), SHOPCRM_SHOP_DB_TIMEZONE="UTC")
    with app.app_context():
        assert abs(shop_now() - utc_now()) < timedelta(seconds=5)  # the setting wins over the file
    assert ("read as UTC (SHOPCRM_SHOP_DB_TIMEZONE, which overrides the mapping file's [shop] timezone 'Asia/Tokyo')"
            in cli(app, "doctor").output)

    app = make_app(SHOPCRM_SHOP_TIMEZONE="Europe/Lisbon")  # a preset: the shop's zone, and how to say otherwise
    assert ("read as Europe/Lisbon (the shop's zone, SHOPCRM_SHOP_TIMEZONE; set SHOPCRM_SHOP_DB_TIMEZONE if the shop "
            "stores another)") in cli(app, "doctor").output


# --- views = "none" ---------------------------------------------------------------------------------

def test_views_off_by_choice_gives_no_beacon_advice(make_app):
    app = make_app(SHOPCRM_SHOP_PRESET="generic", SHOPCRM_SHOP_VIEWS="beacon")
    advice = cli(app, "doctor").output
    assert "the view beacon is off (SHOPCRM_BEACON_SECRET is not set)" in advice  # what "none" silences

    app = make_app(SHOPCRM_SHOP_VIEWS="none")
    result = cli(app, "doctor")
    out = result.output
    assert result.exit_code == 0 and "Result: everything shopcrm needs is there." in out
    assert "[off] product views (view) from nowhere (off by choice)" in out
    assert ('browsing data is off by choice (the mapping says views = "none"): interests come from carts and orders, '
            "and no view beacon is needed") in out
    assert "beacon" not in out.replace("no view beacon is needed", "")
    with app.app_context():
        assert not current_mapping().has("view")
        assert cli(app, "segment", "--quiet", "--as-of", DEMO_NOW.isoformat()).exit_code == 0
        run = db.session.scalar(sa.select(Run))
    assert run.status == "succeeded"

    app = make_app(SHOPCRM_SHOP_VIEWS="none", SHOPCRM_BEACON_SECRET="b" * 40)
    assert ("the view beacon is on (SHOPCRM_BEACON_SECRET is set) but its views are not used: remove the secret, "
            "or map the views") in cli(app, "doctor").output


def test_views_none_works_for_every_preset():
    for name in ("generic", "opencart", "opencart3", "prestashop"):
        mapping = preset(name).with_views("none")
        assert mapping.views_off and "view" not in mapping.entities and "view" not in mapping.notes
        assert not mapping.with_views("none").has("view")
    assert not load_mapping({"SHOPCRM_SHOP_VIEWS": "none", "SHOPCRM_SHOP_PRESET": "prestashop"}).has("view")
    assert load_mapping({"SHOPCRM_SHOP_VIEWS": "beacon", "SHOPCRM_SHOP_PRESET": "generic"}).reads_crm("view")


# --- the newest activity and the analysis window ----------------------------------------------------

def test_the_doctor_warns_when_the_newest_activity_is_older_than_the_window(app):
    with app.app_context(), connect_shop() as conn:
        mapping = current_mapping()
        fresh = examine(conn, mapping, now=DEMO_NOW)
        stale = examine(conn, mapping, now=DEMO_NOW + timedelta(days=800))
        narrow = examine(conn, mapping, now=DEMO_NOW + timedelta(days=40), window_days=10)
        newest = max(conn.execute(sa.text(f"SELECT MAX({c}) FROM {t}")).scalar()
                     for t, c in (("orders", "placed_at"), ("product_views", "viewed_at"),
                                  ("cart_items", "added_at")))
    last = datetime.fromisoformat(str(newest))
    expected = (f"older than the 365-day analysis window, so a segmentation as of today finds no recent activity; use "
                f"`flask --app wsgi shopcrm segment --as-of {last + timedelta(days=1):%Y-%m-%d}` to analyse the "
                "shop as of its last day")
    assert not [w for e in fresh.entities for w in e.warnings if "analysis window" in w]
    orders = next(e for e in stale.entities if e.entity == "order")
    assert [w for w in orders.warnings if "analysis window" in w] == [
        f"the newest product view is from {last:%Y-%m-%d}, " + expected]
    assert any("older than the 10-day analysis window" in w for e in narrow.entities for w in e.warnings)


def test_the_advised_as_of_segments_an_old_shop(make_app):
    """The window the doctor holds the shop against is the app's (the smaller of the interest
    horizon and the value window), and the --as-of it gives is one a run accepts."""
    app = make_app(SHOPCRM_INTEREST_HORIZON_DAYS=20, SHOPCRM_VALUE_WINDOW_DAYS=400)
    result = cli(app, "doctor")
    old = (utc_now() - DEMO_NOW).days > 30  # the demo has a few rows dated days after DEMO_NOW
    warning = [line for line in result.output.splitlines() if "analysis window" in line]
    assert bool(warning) == old, result.output
    if old:
        assert "older than the 20-day analysis window" in warning[0]
        as_of = warning[0].split("--as-of ")[1].split("`")[0]
        newest = datetime.strptime(warning[0].split(" is from ")[1][:10], "%Y-%m-%d")
        assert as_of == f"{newest + timedelta(days=1):%Y-%m-%d}"
        assert cli(app, "segment", "--quiet", "--as-of", as_of).exit_code == 0
        with app.app_context():
            assert db.session.scalar(sa.select(Run.as_of)) == datetime.fromisoformat(as_of)
