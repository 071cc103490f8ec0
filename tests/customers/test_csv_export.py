"""The segment CSV export cannot carry a formula into a spreadsheet, whichever delimiter the
spreadsheet splits on: a shop name like ``x;=1+1`` is one harmless cell read with ",", and the
cell that ";" cuts out of it does not start a formula either."""
from __future__ import annotations

import csv
import io
import shutil
import sqlite3

import pytest

from shopcrm import create_app
from shopcrm.customers.members import csv_safe
from tests.support.apps import base_config, biggest, dispose, logged_in

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NAMES = {"first_name": "x;=1+1", "last_name": "Doe,-2+3;@SUM(A1)", "city": 'Town\n=HYPERLINK("http://evil")'}


@pytest.mark.parametrize("value,safe", [
    ("x;=1+1", "x;'=1+1"),
    ("a,-1", "a,'-1"),
    ("x;+1;@cmd", "x;'+1;'@cmd"),
    ("Town\n=cmd", "Town\n'=cmd"),
    ("Town\r\n-1", "Town\r\n'-1"),
    ('x;"=1+1"', "x;'\"=1+1\""),
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("a;b, c", "a;b, c"),
    ("12,34,56", "12,34,56"),
    ("anna@example.org", "anna@example.org"),
])
def test_a_cell_is_safe_wherever_a_reader_may_start_a_cell(value, safe):
    assert csv_safe(value) == safe


@pytest.fixture
def hostile_names_app(tmp_path, segmented_template, demo_shop_file):
    """The segmented demo, read from a copy of the shop whose customers have hostile names."""
    shop = tmp_path / "shop.db"
    shutil.copy(demo_shop_file, shop)
    with sqlite3.connect(shop) as conn:
        conn.execute("UPDATE customers SET first_name = ?, last_name = ?, city = ?", tuple(NAMES.values()))
    conn.close()
    shutil.copy(segmented_template, tmp_path / "crm.db")
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}"))
    yield app
    dispose(app)


def test_the_export_is_safe_read_with_commas_or_with_semicolons(hostile_names_app):
    client = logged_in(hostile_names_app, role="marketer")
    seg_id, size, _ = biggest(hostile_names_app)
    text = client.get(f"/crm/admin/segments/{seg_id}/export.csv").data.decode("utf-8-sig")

    rows = list(csv.DictReader(io.StringIO(text)))  # as written: "," with quotes honoured
    assert len(rows) == size
    assert {(r["First name"], r["Last name"], r["City"]) for r in rows} == {
        ("x;'=1+1", "Doe,'-2+3;'@SUM(A1)", 'Town\n\'=HYPERLINK("http://evil")')}
    for row in rows:
        assert not any(cell.startswith(FORMULA_START) for cell in row.values()), row

    for reading in (list(csv.reader(io.StringIO(text), delimiter=";")),  # a ";" locale, quotes honoured
                    [line.split(";") for line in text.splitlines()],  # and a reader that ignores quotes
                    [line.split(",") for line in text.splitlines()]):
        cells = [cell.lstrip('"') for row in reading for cell in row]
        assert not [cell for cell in cells if cell.startswith(FORMULA_START)]
