"""SHOPCRM_SHOP_ORDER_STATUSES in the settings file: a list, or comma-separated as in the environment."""
import pytest

from shopcrm import create_app
from shopcrm.errors import ConfigError
from shopcrm.shop import load_mapping
from tests.support.apps import base_config


@pytest.mark.parametrize("written", ["5,1,2,12,3", " 5, 1,2 ,12,3 ", [5, 1, 2, 12, 3], ("5", "1", "2", "12", "3")])
def test_order_statuses_as_the_guides_write_them(tmp_path, written):
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_PRESET="opencart", SHOPCRM_SHOP_ORDER_STATUSES=written))
    assert load_mapping(app.config).params["order_statuses"] == [1, 2, 3, 5, 12]


@pytest.mark.parametrize("written", [5, {"5": 1}, [True]])
def test_order_statuses_that_are_no_list_are_refused(tmp_path, written):
    with pytest.raises(ConfigError, match="SHOPCRM_SHOP_ORDER_STATUSES must be empty or a list"):
        create_app(base_config(tmp_path, SHOPCRM_SHOP_ORDER_STATUSES=written))
