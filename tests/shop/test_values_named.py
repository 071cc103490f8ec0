"""A value the readers cannot use is named, on SQLite and MariaDB: the entity, the shop's column,
the value and the fix, by the doctor (every row) and by a run (the first it meets), instead of
"check the mapping's id and date columns"."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from shopcrm import demo
from shopcrm.errors import MappingError
from shopcrm.segmentation.extract import extract
from shopcrm.shop import connect_shop, current_mapping
from shopcrm.shop.readers import _parse, value_error
from tests.support.apps import DEMO_NOW

EXPECTED = ("orders (order): the column `orders`.`customer_id` holds 'A17', but the customer must be a whole number; "
            "map 'order' with a SELECT that returns whole numbers (e.g. CAST(… AS SIGNED) AS customer_id) or map "
            "another column")


@pytest.fixture(params=["sqlite", "mariadb"])
def shop_with_a_text_id(request, tmp_path):
    """A small demo shop whose orders.customer_id holds one value that is not a number."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
    else:
        url = request.getfixturevalue("mariadb_database")("values")
    engine = sa.create_engine(url)
    demo.write(engine, demo.generate(seed=3, customers=120, now=DEMO_NOW))
    with engine.begin() as conn:
        if engine.dialect.name != "sqlite":  # SQLite keeps text in an INTEGER column as it is
            conn.exec_driver_sql("ALTER TABLE orders MODIFY customer_id VARCHAR(20) NULL")
        order = conn.exec_driver_sql("SELECT MAX(order_id) FROM orders WHERE placed_at < '2026-10-01' AND status = 'complete'").scalar()
        conn.execute(sa.text("UPDATE orders SET customer_id = 'A17' WHERE order_id = :o"), {"o": order})
    engine.dispose()
    return url, order, request.param


def test_a_value_that_is_not_a_number_is_named(make_app, shop_with_a_text_id):
    url, order, backend = shop_with_a_text_id
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=url)
    with app.app_context(), connect_shop() as conn:
        with pytest.raises(MappingError) as info:
            extract(conn, current_mapping(), DEMO_NOW)
    assert str(info.value) == EXPECTED + "; `flask --app wsgi shopcrm doctor` checks every row"
    result = app.test_cli_runner().invoke(args=["shopcrm", "segment", "--quiet", "--as-of", DEMO_NOW.isoformat()])
    assert result.exit_code == 1 and result.output.strip() == f"Error: {info.value}"
    if backend == "mariadb":  # a VARCHAR column: the doctor reads every value of it
        doctor = app.test_cli_runner().invoke(args=["shopcrm", "doctor"])
        assert doctor.exit_code == 1
        assert f"PROBLEM: {EXPECTED} (1 rows, e.g. order {order})" in doctor.output, doctor.output


def test_the_parser_names_the_position_of_a_bad_value():
    from shopcrm.shop.presets import preset

    mapping = preset("generic")
    labels = [("order", "id"), ("order", "customer_id")]
    explain = lambda position, value: value_error(mapping, *labels[position], value)  # noqa: E731
    assert _parse([b"1,2;3,4;"], 2, explain).tolist() == [[1, 2], [3, 4]]
    for blob, column, value in ((b"1,2;3.5,4;", "`orders`.`order_id`", "'3.5'"), (b"1,2;3,x;", "`orders`.`customer_id`",
                                                                                   "'x'"), (b"1,2;3,;", "customer_id",
                                                                                            "an empty value")):
        with pytest.raises(MappingError) as info:
            _parse([blob], 2, explain)
        assert column in str(info.value) and f"holds {value}" in str(info.value), str(info.value)
