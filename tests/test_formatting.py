"""Money, numbers, rates and dates come out in the shop's currency, locale and zone."""
from datetime import datetime

import pytest

from shopcrm import create_app
from shopcrm.clock import shop_now, to_shop, to_utc
from shopcrm.errors import ConfigError
from tests.support.apps import base_config


def test_money_numbers_rates_and_dates_follow_the_shop_settings(tmp_path):
    app = create_app(base_config(tmp_path, SHOPCRM_CURRENCY="EUR", SHOPCRM_LOCALE="de_DE",
                                 SHOPCRM_SHOP_TIMEZONE="Europe/Berlin"))
    with app.app_context():
        page = app.jinja_env.from_string("{{ 109181.43|money }}|{{ 1174|number }}|{{ 0.1234|percent }}|{{ t|when }}").render(
            t=datetime(2026, 7, 1, 12, 0))
    assert page == "109.181,43\xa0€|1.174|12,3%|01.07.2026, 14:00 CEST"
    english = create_app(base_config(tmp_path / "en", SHOPCRM_CURRENCY="GBP", SHOPCRM_LOCALE="en_GB",
                                     SHOPCRM_SHOP_TIMEZONE="Europe/London"))
    with english.app_context():
        page = english.jinja_env.from_string("{{ 109181.43|money }}|{{ 5|money(cents=False) }}|{{ t|when }}").render(
            t=datetime(2026, 12, 5, 19, 0))
    assert page == "£109,181.43|£5|5 Dec 2026, 19:00 GMT"


def test_a_shop_that_stores_utc_is_read_on_its_own_clock(tmp_path):
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_TIMEZONE="Europe/Berlin", SHOPCRM_SHOP_DB_TIMEZONE="UTC"))
    with app.app_context():
        assert to_shop(datetime(2026, 7, 1, 12, 0)) == datetime(2026, 7, 1, 12, 0)
        assert abs((shop_now() - datetime.utcnow()).total_seconds()) < 5
    local = create_app(base_config(tmp_path / "local", SHOPCRM_SHOP_TIMEZONE="Europe/Berlin"))
    with local.app_context():
        assert to_shop(datetime(2026, 7, 1, 12, 0)) == datetime(2026, 7, 1, 14, 0)
        assert to_utc(datetime(2026, 1, 1, 14, 0)) == datetime(2026, 1, 1, 13, 0)


@pytest.mark.parametrize("key,value", [("SHOPCRM_CURRENCY", "EURO"), ("SHOPCRM_LOCALE", "xx_YY"),
                                       ("SHOPCRM_SHOP_TIMEZONE", "Mars/Olympus")])
def test_an_unknown_currency_locale_or_zone_is_refused_by_name(tmp_path, key, value):
    with pytest.raises(ConfigError, match=key):
        create_app(base_config(tmp_path, **{key: value}))
