"""A table entity's ``where``: equal, one of, and the tests TOML needs a table for (not, not_in,
is_null, not_null), on SQLite and MariaDB, values always bound, mistakes named."""
from __future__ import annotations

import textwrap

import pytest
import sqlalchemy as sa

from shopcrm.errors import MappingError
from shopcrm.shop.mapping_file import load_mapping_file

BASE = """
[customer]
table = "clients"
columns = { id = "no", email = "mail", first_name = "given", created_at = "since" }
{where}

[product]
table = "items"
columns = { id = "no", name = "title", price = "price", category_id = "grp" }

[category]
table = "groups"
columns = { id = "no", name = "title" }

[order]
table = "sales"
columns = { id = "no", customer_id = "client", placed_at = "at", total = "amount" }

[order_line]
table = "sale_lines"
columns = { order_id = "sale", product_id = "item", quantity = "qty", unit_price = "each" }
"""

# no, status, deleted_at, kind
CLIENTS = [(1, "active", None, "retail"), (2, "canceled", None, "retail"), (3, None, None, "trade"),
           (4, "active", "2026-01-01 00:00:00", "retail"), (5, "blocked", None, None), (6, "active", None, "test")]


def mapping_with(tmp_path, where: str):
    path = tmp_path / "shop.toml"
    path.write_text(textwrap.dedent(BASE).replace("{where}", where), encoding="utf-8")
    return load_mapping_file(path)


@pytest.fixture(params=["sqlite", "mariadb"])
def clients_db(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
    else:
        url = request.getfixturevalue("mariadb_database")("where")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE clients (no INT PRIMARY KEY, mail VARCHAR(99), given VARCHAR(99), "
                             "since DATETIME, status VARCHAR(20) NULL, deleted_at DATETIME NULL, kind VARCHAR(20))")
        conn.execute(sa.text("INSERT INTO clients VALUES (:no, :mail, 'x', '2025-01-01 00:00:00', :status, "
                             ":deleted, :kind)"),
                     [{"no": n, "mail": f"c{n}@x.test", "status": s, "deleted": d, "kind": k} for n, s, d, k in CLIENTS])
    yield engine
    engine.dispose()


@pytest.mark.parametrize("where,expected", [
    ('where = { status = "active" }', {1, 4, 6}),
    ('where = { kind = ["retail", "trade"] }', {1, 2, 3, 4}),
    ('where = { status = { not = "canceled" } }', {1, 3, 4, 5, 6}),  # an empty status is not "canceled"
    ('where = { status = { not = ["canceled", "blocked"] } }', {1, 3, 4, 6}),
    ('where = { status = { not_in = ["canceled", "blocked"] } }', {1, 3, 4, 6}),
    ('where = { status = { not = "canceled", not_null = true } }', {1, 4, 5, 6}),
    ('where = { deleted_at = { is_null = true } }', {1, 2, 3, 5, 6}),
    ('where = { deleted_at = { not_null = true } }', {4}),
    ('where = { deleted_at = { is_null = false } }', {4}),
    ('where = { deleted_at = { is_null = true }, status = { not_in = ["canceled"] }, kind = { not = "test" } }',
     {1, 3, 5}),
])
def test_each_test_selects_the_rows_it_says(tmp_path, clients_db, where, expected):
    mapping = mapping_with(tmp_path, where)
    src = mapping.source("customer", ("id",))
    with clients_db.connect() as conn:
        assert {r[0] for r in conn.execute(sa.select(src.c.id))} == expected


def test_values_stay_bound_parameters(tmp_path):
    mapping = mapping_with(tmp_path, """where = { status = { not_in = ["it's", "x"] }, kind = { not = "trade" } }""")
    compiled = sa.select(mapping.source("customer")).compile(dialect=sa.dialects.mysql.dialect())
    assert "it's" not in str(compiled) and "trade" not in str(compiled)
    assert "trade" in compiled.params.values() and ["it's", "x"] in compiled.params.values()


@pytest.mark.parametrize("where,message", [
    ('where = { status = { nope = 1 } }', "filter on 'status': unknown test 'nope' (known: not, not_in, is_null"),
    ('where = { status = { } }', "filter on 'status': an empty table tests nothing"),
    ('where = { deleted_at = { is_null = "yes" } }', "filter on 'deleted_at': 'is_null' must be true or false"),
    ('where = { status = { not_in = "canceled" } }', "'not_in' must be a non-empty list"),
    ('where = { status = { not_in = [] } }', "'not_in' must be a non-empty list"),
    ('where = { status = { not = [] } }', "'not' must be a number, a string, true/false or a non-empty list"),
    ('where = { status = { not = { deeper = 1 } } }', "'not' must be a number"),
    ('where = { "sta tus" = { not = "x" } }', "field 'where': 'sta tus' is not a valid table or column name"),
])
def test_a_malformed_test_names_the_file_the_entity_and_the_column(tmp_path, where, message):
    with pytest.raises(MappingError) as info:
        mapping_with(tmp_path, where)
    text = str(info.value)
    assert "shop.toml, entity 'customer'" in text and message in text, text
