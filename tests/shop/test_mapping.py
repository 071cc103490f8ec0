"""The mapping model: validation of identifiers and SELECTs, presets and their settings, where views come from."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.config import from_environ
from shopcrm.errors import ConfigError, MappingError
from shopcrm.shop import load_mapping
from shopcrm.shop.mapping import EntityMap, ShopMapping
from shopcrm.shop.presets import PRESETS, preset
from shopcrm.shop.readonly import check_statement
from tests.support.apps import base_config


def generic_entities(**replace) -> dict:
    entities = dict(preset("generic").entities)
    entities.update(replace)
    return entities


@pytest.mark.parametrize("emap,message", [
    (EntityMap("customer", table="customers; DROP TABLE x", columns={"id": "a", "email": "b", "first_name": "c",
                                                                     "created_at": "d"}),
     "entity 'customer', field 'table'"),
    (EntityMap("customer", table="customers", columns={"id": "customer_id", "email": "mail`", "first_name": "f",
                                                       "created_at": "c"}),
     "field 'columns', column 'email'"),
    (EntityMap("customer", table="customers", columns={"id": "customer_id", "email": "email", "first_name": "f"}),
     "the required column(s) created_at are not mapped"),
    (EntityMap("customer", table="customers", columns={"id": "i", "email": "e", "first_name": "f", "created_at": "c",
                                                       "shoe_size": "s"}),
     "unknown canonical column(s) shoe_size"),
    (EntityMap("customer", table="customers", columns={"id": "i", "email": "e", "first_name": "f", "created_at": "c"},
               where={"active": {"nested": 1}}),
     "field 'where', filter on 'active'"),
    (EntityMap("order", select="DELETE FROM orders"), "must be a SELECT statement"),
    (EntityMap("order", select="SELECT 1 AS id; DROP TABLE orders"), "must be one statement"),
    (EntityMap("order", select="WITH x AS (SELECT 1) DELETE FROM orders"), "only reads are allowed"),
    (EntityMap("order", select="SELECT * FROM orders FOR UPDATE"), "only reads are allowed"),
    (EntityMap("order", table="orders", select="SELECT 1"), "not both or neither"),
    (EntityMap("order", select="SELECT 1", returns=("id", "total")), "field 'returns': the required column(s)"),
    (EntityMap("order", store="crm"), "only the 'view' entity can be kept by shopcrm"),
    (EntityMap("view", store="crm", table="product_views"), "give neither 'table' nor 'select'"),
    (EntityMap("view", store="elsewhere", table="x"), "field 'store': must be one of shop, crm, both"),
])
def test_a_malformed_entity_is_refused_with_its_entity_and_field(emap, message):
    with pytest.raises(MappingError) as info:
        ShopMapping("test", generic_entities(**{emap.entity: emap}))
    assert message in str(info.value)


def test_literals_in_a_select_are_not_mistaken_for_statements_or_writes():
    select = ("SELECT o.id AS id, o.cust AS customer_id, o.at AS placed_at, o.sum AS total FROM orders o "
              "WHERE o.note <> 'update; delete' AND REPLACE(o.ref, '&amp;', '&') <> ''")
    mapping = ShopMapping("test", generic_entities(order=EntityMap("order", select=select)))
    assert mapping.has("order")


def test_the_string_function_replace_reads_but_replace_into_writes():
    check_statement("SELECT REPLACE(name, '&amp;', '&') FROM products")
    for statement in ("REPLACE INTO products VALUES (1)", "WITH a AS (SELECT 1) REPLACE INTO x SELECT * FROM a"):
        with pytest.raises(Exception, match="refused"):
            check_statement(statement)


def test_select_parameters_are_bound_and_missing_ones_named():
    mapping = ShopMapping("test", generic_entities(order=EntityMap(
        "order", select="SELECT id, customer_id, placed_at, total FROM {prefix}orders WHERE status IN :ok AND x = :y",
        params={"ok": ["paid", "sent"]})), prefix="s_", params={"y": "it's"})
    sql, params = mapping.select_text("order")
    assert "FROM s_orders" in sql and params == {"ok": ["paid", "sent"], "y": "it's"}
    compiled = str(sa.select(mapping.source("order")).compile(compile_kwargs={"render_postcompile": True}))
    assert "it's" not in compiled and "paid" not in compiled  # values stay parameters
    broken = ShopMapping("test", generic_entities(order=EntityMap("order", select="SELECT * FROM o WHERE a = :nope")))
    with pytest.raises(MappingError, match="parameter.*nope.*no value"):
        broken.source("order")


def test_views_kept_by_shopcrm_are_not_read_from_the_shop():
    mapping = preset("opencart")
    assert not mapping.has("view") and mapping.reads_crm("view")
    with pytest.raises(MappingError, match="crm_view"):
        mapping.source("view")
    both = preset("prestashop")
    assert both.has("view") and both.reads_crm("view")
    assert preset("generic").has("view") and not preset("generic").reads_crm("view")


def test_where_views_come_from_can_be_chosen():
    ps = preset("prestashop")
    assert ps.with_views("shop").entities["view"].store == "shop"
    assert ps.with_views("beacon").entities["view"].store == "crm"
    assert preset("generic").with_views("both").reads_crm("view")
    with pytest.raises(MappingError, match="no table of the shop's own that holds product views"):
        preset("opencart").with_views("shop")


def test_presets_and_their_settings():
    assert set(PRESETS) == {"generic", "opencart", "opencart40", "opencart3", "prestashop"}
    oc = preset("opencart", order_statuses=("3", "5"), language_id=2)
    assert oc.prefix == "oc_" and oc.params["order_statuses"] == [3, 5] and oc.params["language_id"] == 2
    assert preset("opencart", prefix="").prefix == ""  # an explicit empty prefix stays empty
    assert preset("prestashop").prefix == "ps_" and preset("prestashop", store_id=3).params["shop_id"] == 3
    for name, params, message in [
        ("nope", {}, "unknown mapping preset 'nope'"),
        ("opencart", {"order_statuses": [0, 5]}, "status 0 is OpenCart's 'missing order'"),
        ("opencart", {"order_statuses": ["complete"]}, "OpenCart order statuses are numbers"),
        ("opencart", {"store_id": 1}, "does not apply to OpenCart"),
        ("prestashop", {"order_statuses": [2]}, "orders.valid"),
        ("generic", {"language_id": 2}, "no languages or stores"),
    ]:
        with pytest.raises(MappingError, match=message):
            preset(name, **params)


def test_every_preset_notes_what_it_cannot_read():
    for name in PRESETS:
        mapping = preset(name)
        assert mapping.notes, name
    for name in ("opencart", "opencart40", "opencart3"):
        assert "no per-customer product views" in preset(name).notes["view"]
    assert "statsdata" in preset("prestashop").notes["view"]


def test_load_mapping_reads_the_shop_settings(tmp_path):
    config = {"SHOPCRM_SHOP_PRESET": "opencart3", "SHOPCRM_SHOP_TABLE_PREFIX": "shop1_",
              "SHOPCRM_SHOP_LANGUAGE_ID": 3, "SHOPCRM_SHOP_ORDER_STATUSES": ("2", "5"), "SHOPCRM_SHOP_VIEWS": "preset"}
    mapping = load_mapping(config)
    assert (mapping.name, mapping.prefix, mapping.params["language_id"], mapping.params["order_statuses"]) == \
        ("opencart3", "shop1_", 3, [2, 5])
    assert "FROM `shop1_order`" in mapping.select_text("order")[0]


def test_shop_settings_from_the_environment_are_parsed_and_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOPCRM_SHOP_ORDER_STATUSES", " 2, 3 ,5")
    monkeypatch.setenv("SHOPCRM_SHOP_LANGUAGE_ID", "2")
    monkeypatch.setenv("SHOPCRM_SHOP_TABLE_PREFIX", "")
    values = from_environ()
    assert values["SHOPCRM_SHOP_ORDER_STATUSES"] == ("2", "3", "5")
    assert values["SHOPCRM_SHOP_LANGUAGE_ID"] == 2 and values["SHOPCRM_SHOP_TABLE_PREFIX"] == ""
    with pytest.raises(ConfigError) as info:
        create_app(base_config(tmp_path, SHOPCRM_SHOP_VIEWS="somewhere", SHOPCRM_SHOP_TABLE_PREFIX="oc-",
                               SHOPCRM_BEACON_WINDOW_SECONDS=1))
    for key in ("SHOPCRM_SHOP_VIEWS", "SHOPCRM_SHOP_TABLE_PREFIX", "SHOPCRM_BEACON_WINDOW_SECONDS"):
        assert key in str(info.value)


def test_the_opencart_versions_differ_where_their_tables_do():
    new, mid, old = (preset(n).select_text("customer")[0] for n in ("opencart", "opencart40", "opencart3"))
    assert "zone_description" in new and "d.`default` = 1" in new
    assert "zone_description" not in mid and "{p}zone z".format(p="oc_") in mid and "d.`default` = 1" in mid
    assert "zone_description" not in old and "a.address_id = c.address_id" in old
    for name in ("opencart", "opencart40", "opencart3"):
        order = preset(name).select_text("order")
        assert "FROM `oc_order` o" in order[0] and order[1]["order_statuses"] == [1, 2, 3, 5, 12]


def test_a_select_that_returns_fewer_columns_must_say_so(demo_shop_file):
    from shopcrm.shop.readonly import install_guard
    from shopcrm.shop.schema import verify

    select = "SELECT customer_id AS id, email, first_name, created_at FROM customers WHERE active = :on"
    engine = install_guard(sa.create_engine(f"sqlite:///{demo_shop_file}"))
    silent = ShopMapping("test", generic_entities(customer=EntityMap("customer", select=select, params={"on": 1})))
    declared = ShopMapping("test", generic_entities(customer=EntityMap(
        "customer", select=select, params={"on": 1}, returns=("id", "email", "first_name", "created_at"))))
    with engine.connect() as conn:
        with pytest.raises(MappingError) as info:
            verify(conn, silent)
        assert "returns no column `city` (the city); add `… AS city`, or list the columns it does return under " \
               "'returns'" in str(info.value)
        verify(conn, declared)
        row = conn.execute(sa.select(declared.source("customer")).limit(1)).mappings().one()
    engine.dispose()
    assert row["city"] is None and row["consent"] == 0 and row["email"]
