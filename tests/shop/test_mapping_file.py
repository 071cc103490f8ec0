"""Custom TOML mapping files: every mistake names the file, the entity and the field."""
from __future__ import annotations

import textwrap

import pytest

from shopcrm.errors import MappingError
from shopcrm.shop import current_mapping
from shopcrm.shop.mapping_file import load_mapping_file
from tests.shops.myshop import MAPPING_FILE

MINIMAL = """
[customer]
table = "clients"
columns = { id = "no", email = "mail", first_name = "given", created_at = "since" }

[product]
table = "items"
columns = { id = "no", name = "title", price = "price", category_id = "grp" }

[category]
table = "groups"
columns = { id = "no", name = "title" }

[order]
select = '''SELECT no AS id, client AS customer_id, at AS placed_at, amount AS total
            FROM {prefix}sales WHERE state IN :paid'''
params = { paid = [2, 3] }

[order_line]
table = "sale_lines"
columns = { order_id = "sale", product_id = "item", quantity = "qty", unit_price = "each" }
"""


def write(tmp_path, text: str, name: str = "shop.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_minimal_file_loads(tmp_path):
    mapping = load_mapping_file(write(tmp_path, MINIMAL))
    assert mapping.name == "shop" and mapping.prefix == "" and not mapping.has("view")
    assert mapping.entities["order"].params == {"paid": [2, 3]}
    assert load_mapping_file(write(tmp_path, '[mapping]\nprefix = "x_"\n' + MINIMAL), prefix="y_").prefix == "y_"


@pytest.mark.parametrize("text,entity,field,message", [
    (MINIMAL.replace("columns = { id = \"no\", email", "colums = { id = \"no\", email", 1),
     "customer", "colums", "unknown key (known: table, columns,"),
    (MINIMAL.replace('table = "clients"', "table = 42"), "customer", "table",
     "must be a string (in quotes), not a number"),
    (MINIMAL.replace('email = "mail", ', ""), "customer", "columns", "the required column(s) email are not mapped"),
    (MINIMAL.replace('first_name = "given"', "first_name = 7"), "customer", "columns",
     "'first_name' must name a column"),
    (MINIMAL.replace("params = { paid = [2, 3] }", 'params = "2,3"'), "order", "params", "must be a table"),
    (MINIMAL.replace("params = { paid = [2, 3] }", "params = { paid = [] }"), "order", "params",
     "parameter 'paid'"),
    (MINIMAL.replace('table = "groups"', 'table = "groups"\nstore = "crm"'), "category", "store",
     "only the 'view' entity"),
    (MINIMAL + '\n[view]\nstore = "crm"\nreturns = "all"\n', "view", "returns", "must be a list"),
    (MINIMAL.replace("SELECT no AS id", "DELETE FROM sales; SELECT no AS id"), "order", "select",
     "must be a SELECT statement"),
])
def test_mistakes_name_the_file_the_entity_and_the_field(tmp_path, text, entity, field, message):
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as info:
        load_mapping_file(path)
    text = str(info.value)
    assert str(path) in text and f"entity '{entity}'" in text and f"field '{field}'" in text and message in text


@pytest.mark.parametrize("text,message", [
    (MINIMAL + "\n[customers]\ntable = 'x'\n", "unknown section [customers]"),
    (MINIMAL + "\n[mapping]\nbasis = 'generic'\n", "[mapping], field 'basis': unknown key"),
    (MINIMAL + "\n[notes]\nshoes = 'none'\n", "[notes]: 'shoes' must be an entity name"),
    (MINIMAL.replace("[order_line]", "[order_line\n"), "not valid TOML"),
    ("\n".join(MINIMAL.split("[order]")[0:1]), "the required entity 'order' (orders) is not mapped"),
])
def test_file_level_mistakes_name_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as info:
        load_mapping_file(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(MappingError, match="SHOPCRM_SHOP_MAPPING_FILE points to .*nothing.toml, which does not exist"):
        load_mapping_file(tmp_path / "nothing.toml")


def test_a_file_can_start_from_a_preset_and_replace_entities(tmp_path):
    path = write(tmp_path, """
        [mapping]
        base = "opencart"
        [order]
        select = "SELECT order_id AS id, customer_id, date_added AS placed_at, total FROM `{prefix}order` WHERE paid"
        [notes]
        order = "only paid orders"
        """)
    mapping = load_mapping_file(path, language_id=2)
    assert mapping.prefix == "oc_" and mapping.params["language_id"] == 2
    assert "WHERE paid" in mapping.entities["order"].select and mapping.entities["customer"].select
    assert mapping.notes["order"] == "only paid orders" and "view" in mapping.notes


def test_the_documented_example_loads_through_the_settings(make_app):
    """docs/examples/myshop.toml (its run against its schema: test_presets_equivalence.py)."""
    app = make_app(SHOPCRM_SHOP_MAPPING_FILE=str(MAPPING_FILE))
    with app.app_context():
        mapping = current_mapping()
    assert mapping.name == "Kleinladen" and mapping.prefix == "kl_" and mapping.origin == str(MAPPING_FILE)
    assert mapping.entities["order"].select and mapping.entities["order"].params == {"is_sale": 1}
    assert mapping.table_name("customer") == "kl_kunden"
