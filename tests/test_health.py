"""The doctor's stored report says which mapping it checked and when, and the settings page says
so, and says when the report is for another mapping than the one configured now."""
from __future__ import annotations

import os
import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from shopcrm.health import check_shop, doctor_status, last_report, mapping_identity
from tests.support.apps import logged_in

MAPPING = """
[mapping]
name = "my shop"
base = "generic"
"""


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def test_the_identity_of_a_preset_and_of_a_file(tmp_path, make_app):
    app = make_app()
    with app.app_context():
        preset = mapping_identity()
    assert preset["kind"] == "preset" and preset["name"] == "generic" and preset["label"] == "the preset “generic”"

    path = tmp_path / "shop.toml"
    path.write_text(MAPPING)
    app = make_app(SHOPCRM_SHOP_MAPPING_FILE=str(path), SHOPCRM_SHOP_TABLE_PREFIX="")
    with app.app_context():
        first = mapping_identity()
        os.utime(path, (time.time() + 60, time.time() + 60))
        touched = mapping_identity()  # saved again, same content: the same mapping
        path.write_text(MAPPING.replace("my shop", "my shop, edited"))
        edited = mapping_identity()
        app.config["SHOPCRM_SHOP_ORDER_STATUSES"] = ("complete",)
        statuses = mapping_identity()
    assert first["kind"] == "file" and first["name"] == str(path) and len(first["sha256"]) == 64
    assert first["label"].startswith(f"the mapping file {path} (saved ") and "SHOPCRM_SHOP_TABLE_PREFIX = ''" in \
        first["label"]
    assert touched["fingerprint"] == first["fingerprint"] and touched["modified"] != first["modified"]
    assert edited["fingerprint"] != first["fingerprint"]
    assert statuses["fingerprint"] != edited["fingerprint"] and "SHOPCRM_SHOP_ORDER_STATUSES" in statuses["label"]
    assert preset["fingerprint"] != first["fingerprint"]


def test_a_report_records_its_mapping_and_is_shown_as_stale_after_a_change(tmp_path, make_app):
    path = tmp_path / "shop.toml"
    path.write_text(MAPPING)
    app = make_app(SHOPCRM_SHOP_MAPPING_FILE=str(path))
    before = utc_now().replace(microsecond=0)
    with app.app_context():
        stored = check_shop()
        status = doctor_status()
    assert stored["checked"]["mapping"]["name"] == str(path)
    assert before <= datetime.fromisoformat(stored["checked"]["at"]) <= utc_now() + timedelta(seconds=1)
    assert status["is_current_mapping"] and status["report"]["is_current_mapping"]
    assert status["mapping"]["fingerprint"] == stored["checked"]["mapping"]["fingerprint"]
    assert status["checked_at"] == datetime.fromisoformat(stored["checked"]["at"])

    client = logged_in(app)
    page = client.get("/crm/admin/settings").get_data(as_text=True)
    line = re.search(r'<p class="muted" id="doctor-mapping">(.*?)</p>', page, re.S).group(1).replace("<wbr>", "")
    assert line.startswith(f"This report checked the mapping file {path} (saved ") and " on " in line
    assert "out of date" not in line

    path.write_text(MAPPING.replace("my shop", "my shop, edited"))  # the file changed since the check
    with app.app_context():
        report, _ = last_report()
        assert not report["is_current_mapping"] and not doctor_status()["is_current_mapping"]
    page = client.get("/crm/admin/settings").get_data(as_text=True)
    line = re.search(r'<p class="muted" id="doctor-mapping">(.*?)</p>', page, re.S).group(1).replace("<wbr>", "")
    assert line.endswith(f"This report is out of date: the mapping file has been changed since (the mapping file "
                         f"{path} (saved {datetime.fromtimestamp(path.stat().st_mtime, timezone.utc):%Y-%m-%d %H:%M} "
                         "UTC)). Press “Check again”.</strong>"), line
    app.config["SHOPCRM_SHOP_MAPPING_FILE"] = None
    app.config["SHOPCRM_SHOP_TABLE_PREFIX"] = "x_"
    with app.app_context():
        assert last_report()[0]["mapping_change"] == ("shopcrm is now set to the preset “generic” with "
                                                      "SHOPCRM_SHOP_TABLE_PREFIX = 'x_'")
    app.config["SHOPCRM_SHOP_MAPPING_FILE"], app.config["SHOPCRM_SHOP_TABLE_PREFIX"] = str(path), None

    with app.app_context():
        check_shop()  # "Check again"
        assert doctor_status()["is_current_mapping"]
    assert "out of date" not in client.get("/crm/admin/settings").get_data(as_text=True)


def test_a_report_stored_before_mappings_were_recorded_is_not_taken_as_current(make_app):
    app = make_app()
    with app.app_context():
        from shopcrm.extensions import db
        from shopcrm.models import State

        State.write("doctor", {"ok": True, "errors": [], "entities": [], "database": "x", "mapping": "generic"})
        db.session.commit()
        status = doctor_status()
    assert status["report"] is not None and not status["is_current_mapping"]
    page = logged_in(app).get("/crm/admin/settings").get_data(as_text=True)
    assert "This report checked a mapping it did not record" in page and "Press “Check again”" in page
    assert "it does not say which mapping it checked; shopcrm is now set to the preset “generic”" in page


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("width", [1366, 390])
def test_the_settings_page_says_which_mapping_in_a_real_browser(tmp_path, make_app, width):
    from tests.support.apps import create_user
    from tests.support.browser import ARTIFACTS, browser, live_server, screenshot, sign_in

    path = tmp_path / "shop.toml"
    path.write_text(MAPPING)
    app = make_app(SHOPCRM_SHOP_MAPPING_FILE=str(path))
    with app.app_context():
        check_shop()
    path.write_text(MAPPING.replace("my shop", "my shop, edited"))
    email, password = create_user(app, email="owner@shop.test", password="owner-password-1")
    with live_server(app) as base, browser() as chromium:
        page = chromium.new_page(viewport={"width": width, "height": 900})
        errors = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        sign_in(page, base, email, password)
        page.goto(f"{base}/admin/settings")
        line = page.locator("#doctor-mapping")
        assert line.is_visible() and "Press “Check again”" in line.inner_text()
        fits = line.evaluate("p => p.scrollWidth <= p.clientWidth")
        assert fits  # a long file path wraps inside the card, also on a phone
        screenshot(page, f"settings-mapping-stale-{width}")
        page.locator("section.card").first.screenshot(path=str(ARTIFACTS / f"settings-mapping-card-{width}.png"))
        with page.expect_navigation():
            page.click("button:has-text('Check again')")
        assert "out of date" not in page.locator("#doctor-mapping").inner_text()
        screenshot(page, f"settings-mapping-current-{width}")
        assert not errors, errors
