"""Phone numbers from the shop: the mapping's optional ``phone``/``sms_consent`` columns, read
as the shop typed them, and ``flask shopcrm doctor`` counting how many could get an SMS."""
from __future__ import annotations

import json

from shopcrm.delivery.sms.reach import phone_reach
from shopcrm.shop import connect_shop, current_mapping, queries
from shopcrm.shop.mapping import EntityMap
from tests.support.apps import DEMO_NOW
from tests.support.campaigns import shop_execute, writable_shop
from tests.support.sms import sms_settings


def test_the_demo_shop_phones_come_through_the_generic_mapping(app, demo_shop_file):
    cid, typed, optin = shop_execute(demo_shop_file, "SELECT customer_id, telephone, sms_optin FROM customers "
                                                     "WHERE telephone IS NOT NULL AND active = 1 LIMIT 1")[0]
    with app.app_context(), connect_shop() as shop:
        customer = queries.customers_by_ids(shop, current_mapping(), [cid])[cid]
    assert (customer["phone"], customer["sms_consent"]) == (typed, optin)


def test_a_select_mapping_without_phone_still_reads_and_names_phone_when_it_has_it():
    without = EntityMap("customer", select="SELECT id, email, first_name, created_at FROM c")
    assert "phone" not in without.canonical_columns() and "sms_consent" not in without.canonical_columns()
    with_phone = EntityMap("customer", select="SELECT id, email, first_name, created_at, tel AS phone FROM c")
    assert "phone" in with_phone.canonical_columns() and "sms_consent" not in with_phone.canonical_columns()


def test_doctor_reports_how_many_numbers_are_usable(make_app, fake, tmp_path, demo_shop_file):
    shop = writable_shop(tmp_path, demo_shop_file)
    shop_execute(shop, "UPDATE customers SET telephone = NULL, sms_optin = 0")
    ids = [r[0] for r in shop_execute(shop, "SELECT customer_id FROM customers WHERE active = 1 ORDER BY "
                                            "customer_id LIMIT 5")]
    for cid, typed, optin in zip(ids, ["0151 23456789", "+49 170 1234567", "030 1234567", "n/a", "0151 1"],
                                 [1, 0, 1, 0, 0]):
        shop_execute(shop, "UPDATE customers SET telephone = ?, sms_optin = ? WHERE customer_id = ?",
                     (typed, optin, cid))
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", **sms_settings(fake))
    with app.app_context():
        reach = phone_reach("DE")
    assert (reach.usable, reach.usable_with_consent) == (2, 1)
    assert reach.reasons["not a mobile number"] == 1 and reach.reasons["not a number"] == 1
    assert reach.reasons["invalid for region DE"] == 1 and reach.reasons["empty"] == reach.customers - 5
    text = app.test_cli_runner().invoke(args=["shopcrm", "doctor"]).output
    assert f"SMS: 2 of {reach.customers:,} customers have a usable mobile number (1 of them with SMS consent" in text
    assert "cannot be texted: not a mobile number" in text
    as_json = json.loads(app.test_cli_runner().invoke(args=["shopcrm", "doctor", "--json"]).output)
    assert as_json["sms"]["usable"] == 2


def test_doctor_says_nothing_of_sms_when_it_is_off(app):
    assert "SMS" not in app.test_cli_runner().invoke(args=["shopcrm", "doctor"]).output


def test_a_shop_made_before_phones_were_mapped_still_runs_and_doctor_says_why_no_texts(make_app, tmp_path,
                                                                                      demo_shop_file):
    """The generic schema gained ``telephone`` and ``sms_optin``; a shop built on it before (an
    older demo shop, a shop's own views) keeps working: no phones, one warning, no failed run."""
    from shopcrm.segmentation.run import run_segmentation

    shop = writable_shop(tmp_path, demo_shop_file)
    shop_execute(shop, "ALTER TABLE customers DROP COLUMN telephone")
    shop_execute(shop, "ALTER TABLE customers DROP COLUMN sms_optin")
    app = make_app(SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}")
    cid = shop_execute(shop, "SELECT customer_id FROM customers WHERE active = 1 LIMIT 1")[0][0]
    with app.app_context(), connect_shop() as conn:  # a web worker's first read, before any run
        assert queries.customers_by_ids(conn, current_mapping(), [cid])[cid]["phone"] is None
    with app.app_context():
        run = run_segmentation(as_of=DEMO_NOW)
        assert run.status == "succeeded" and run.counts["customers"] > 1000
        with connect_shop() as conn:
            customer = queries.customers_by_ids(conn, current_mapping(), [cid])[cid]
        assert customer["phone"] is None and not customer["sms_consent"] and customer["email"]
    doctor = app.test_cli_runner().invoke(args=["shopcrm", "doctor"])
    assert "has no column `telephone` (the phone number): read as empty, so no text messages" in doctor.output
    assert "Traceback" not in doctor.output
