"""Running the shop from the panel, not a shell: the settings an owner changes (stored in
crm_setting and laid over the instance file, in every process), the do-not-email list with its
CSV import and export, and one's own password."""
from __future__ import annotations

import csv
import io
import time

import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.delivery.addresses import address_hash
from shopcrm.extensions import db
from shopcrm.models import Campaign, Message, PanelSetting, SoftBounce, Suppression, User
from tests.support.apps import create_user, csrf_token, dispose, logged_in, login


def settings_form(client, **changes) -> dict:
    """The settings form as the page fills it, with ``changes``."""
    page = client.get("/crm/admin/settings").get_data(as_text=True)
    form = {"csrf_token": csrf_token(client, "/crm/admin/settings"), "SHOPCRM_SHOP_NAME": "Demo Shop",
            "SHOPCRM_CURRENCY": "EUR", "SHOPCRM_LOCALE": "en_GB", "SHOPCRM_SHOP_TIMEZONE": "",
            "sender_name": "Test Shop", "sender_address": "shop@shop.test"}
    if 'name="SHOPCRM_TRACK_CLICKS" value="y" checked' in page:
        form["SHOPCRM_TRACK_CLICKS"] = "y"
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_an_admin_changes_the_shops_settings_and_every_page_follows(segmented_app):
    client = logged_in(segmented_app)
    saved = client.post("/crm/admin/settings/shop", data=settings_form(
        client, SHOPCRM_SHOP_NAME="Corner Bikes", SHOPCRM_CURRENCY="GBP", SHOPCRM_LOCALE="de_DE",
        SHOPCRM_SHOP_TIMEZONE="Europe/Berlin", sender_name="Corner Bikes, Berlin", sender_address="Hello@Corner.Example",
        SHOPCRM_TRACK_CLICKS=None, SHOPCRM_TRACK_OPENS="y"), follow_redirects=True)
    assert "Saved: Shop name, Currency, Number and date format, Time zone, E-mails come from" in \
        saved.get_data(as_text=True)
    dashboard = client.get("/crm/admin/").get_data(as_text=True)
    assert "Today at Corner Bikes" in dashboard and "£" in dashboard and "€" not in dashboard
    assert "Umsatz" not in dashboard and "Oktober 2026" in dashboard  # German months and numbers, English words
    with segmented_app.app_context():
        stored = dict(db.session.execute(sa.select(PanelSetting.key, PanelSetting.value)).all())
        assert stored["MAIL_DEFAULT_SENDER"] == '"Corner Bikes, Berlin" <Hello@corner.example>'
        assert stored["SHOPCRM_TRACK_CLICKS"] is False and stored["SHOPCRM_TRACK_OPENS"] is True
        assert db.session.scalar(sa.select(PanelSetting.updated_by).where(
            PanelSetting.key == "SHOPCRM_SHOP_NAME")) == "admin@shop.test"

    # Another process (here: another app on the same database) sees the values on its first request.
    other = create_app(dict(segmented_app.config, INSTANCE_PATH=segmented_app.instance_path))
    try:
        with other.test_request_context():
            other.preprocess_request()
            assert other.config["SHOPCRM_SHOP_NAME"] == "Corner Bikes"
            assert other.config["MAIL_DEFAULT_SENDER"] == '"Corner Bikes, Berlin" <Hello@corner.example>'
            assert other.config["SHOPCRM_TRACK_CLICKS"] is False
    finally:
        dispose(other)

    # The file's value is back once the panel's is removed.
    token = csrf_token(client, "/crm/admin/settings")
    client.post("/crm/admin/settings/shop/reset", data={"csrf_token": token, "key": "SHOPCRM_CURRENCY"})
    assert "€" in client.get("/crm/admin/").get_data(as_text=True)


def test_a_refused_setting_saves_nothing_and_keeps_what_was_typed(segmented_app):
    client = logged_in(segmented_app)
    response = client.post("/crm/admin/settings/shop", data=settings_form(
        client, SHOPCRM_SHOP_NAME="New Name", SHOPCRM_CURRENCY="XYZ"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Currency must be a three-letter currency code like EUR, GBP or USD, not &#39;XYZ&#39;" in page
    assert 'value="New Name"' in page  # what the admin typed is still there
    for bad, message in ((dict(SHOPCRM_SHOP_TIMEZONE="Mars/Olympus"), "Time zone"),
                         (dict(sender_address="not an address"), "is not an e-mail address"),
                         (dict(SHOPCRM_SHOP_NAME="Line\nbreak"), "one line"),
                         (dict(SHOPCRM_LOCALE="xx_YY"), "must be a locale")):
        answer = client.post("/crm/admin/settings/shop", data=settings_form(client, **bad))
        assert answer.status_code == 400 and message in answer.get_data(as_text=True), bad
    with segmented_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PanelSetting)) == 0
    # secrets are not the panel's: a posted MAIL_PASSWORD or SECRET_KEY is ignored
    client.post("/crm/admin/settings/shop", data=settings_form(client, MAIL_PASSWORD="x", SECRET_KEY="y" * 40))
    with segmented_app.app_context():
        assert not {"MAIL_PASSWORD", "SECRET_KEY"} & set(db.session.scalars(sa.select(PanelSetting.key)))
    assert segmented_app.config["SECRET_KEY"] != "y" * 40
    for role in ("marketer", "viewer"):
        other = logged_in(segmented_app, role=role)
        assert other.post("/crm/admin/settings/shop", data={"csrf_token": csrf_token(other, "/crm/admin/")}
                          ).status_code == 403


def test_commands_see_the_panels_settings_too(segmented_app, monkeypatch):
    """``flask shopcrm send`` builds e-mails from the cron job: the panel's sender and shop name apply."""
    client = logged_in(segmented_app)
    client.post("/crm/admin/settings/shop", data=settings_form(client, SHOPCRM_SHOP_NAME="Corner Bikes",
                                                                sender_address="hello@corner.example"))
    cron = create_app(dict(segmented_app.config, INSTANCE_PATH=segmented_app.instance_path))
    seen = {}
    from shopcrm.cli import delivery

    def fake_send_due(**kwargs):
        from flask import current_app

        seen.update(name=current_app.config["SHOPCRM_SHOP_NAME"], sender=current_app.config["MAIL_DEFAULT_SENDER"])
        from shopcrm.delivery.sender import SendReport

        return SendReport()

    monkeypatch.setattr("shopcrm.delivery.sender.send_due", fake_send_due)
    try:
        result = cron.test_cli_runner().invoke(args=["shopcrm", "send"])
        assert result.exit_code == 0, result.output
    finally:
        dispose(cron)
    assert seen == {"name": "Corner Bikes", "sender": "Test Shop <hello@corner.example>"}
    assert delivery  # the command module that was run


def test_the_do_not_email_list(segmented_app):
    client = logged_in(segmented_app, role="marketer")
    token = csrf_token(client, "/crm/admin/suppressions")
    added = client.post("/crm/admin/suppressions/add", data={"csrf_token": token, "address": " Anna@Example.ORG ",
                                                             "reason": "manual"}, follow_redirects=True)
    assert "Anna@Example.ORG gets no more marketing e-mail" in added.get_data(as_text=True)
    again = client.post("/crm/admin/suppressions/add", data={"csrf_token": token, "address": "anna@example.org",
                                                             "reason": "manual"}, follow_redirects=True)
    assert "was on the list already" in again.get_data(as_text=True)
    wrong = client.post("/crm/admin/suppressions/add", data={"csrf_token": token, "address": "anna at example",
                                                             "reason": "manual"}, follow_redirects=True)
    assert "is not an e-mail address" in wrong.get_data(as_text=True)
    found = client.get("/crm/admin/suppressions?address=ANNA@example.org").get_data(as_text=True)
    assert "is on the list: Blocked by the shop" in found
    assert "is not on the list" in client.get("/crm/admin/suppressions?address=bob@example.org").get_data(as_text=True)

    with segmented_app.app_context():
        manual = db.session.scalar(sa.select(Suppression.id).where(
            Suppression.email_hash == address_hash("anna@example.org")))
        db.session.add(Suppression(email_hash=address_hash("carl@example.org"), reason="unsubscribed"))
        db.session.add(SoftBounce(email_hash=address_hash("anna@example.org"), count=3))
        # an address shopcrm mailed is shown; one it never mailed only by its fingerprint
        campaign = Campaign(name="c", target={"value_types": ["new"]}, subject="s", html_body="h", text_body="t")
        db.session.add(campaign)
        db.session.flush()
        db.session.add(Message(campaign_id=campaign.id, customer_id=5, email="carl@example.org",
                               email_hash=address_hash("carl@example.org"), subject="s", html="", text="",
                               state="sent"))
        db.session.commit()
        unsubscribed = db.session.scalar(sa.select(Suppression.id).where(Suppression.reason == "unsubscribed"))
    listing = client.get("/crm/admin/suppressions").get_data(as_text=True)
    table = listing.split('id="suppression-list"', 1)[1]
    assert "carl@example.org" in table and "Unsubscribed" in table
    assert "address not kept" in table  # anna was never mailed: only the fingerprint
    refused = client.post(f"/crm/admin/suppressions/{unsubscribed}/remove", data={"csrf_token": token},
                          follow_redirects=True)
    assert "only they can subscribe again" in refused.get_data(as_text=True)
    lifted = client.post(f"/crm/admin/suppressions/{manual}/remove", data={"csrf_token": token}, follow_redirects=True)
    assert "Lifted" in lifted.get_data(as_text=True)
    with segmented_app.app_context():
        assert db.session.get(Suppression, unsubscribed) is not None and db.session.get(Suppression, manual) is None
        assert db.session.get(SoftBounce, address_hash("anna@example.org")) is None  # a fresh start


def test_the_list_imports_and_exports_csv(segmented_app):
    client = logged_in(segmented_app, role="marketer")
    token = csrf_token(client, "/crm/admin/suppressions")
    upload = ("\ufeffE-mail;Reason\nzoë@example.org;complaint\nbad-line;manual\nben@example.org;\n"
              "BEN@example.org;manual\nkim@example.org;vacation\n=cmd@example.org;manual\n").encode("utf-8")
    response = client.post("/crm/admin/suppressions/import", data={
        "csrf_token": token, "file": (io.BytesIO(upload), "export from the old tool.csv")},
        content_type="multipart/form-data", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "2 address(es) added, 1 already on the list, 3 line(s) skipped" in page
    assert "Line 3: &#39;bad-line&#39; is not an e-mail address" in page
    assert "Line 6: unknown reason &#39;vacation&#39;" in page
    with segmented_app.app_context():
        reasons = dict(db.session.execute(sa.select(Suppression.email_hash, Suppression.reason)).all())
    assert reasons == {address_hash("ben@example.org"): "manual", address_hash("=cmd@example.org"): "manual"}
    # "zoë@example.org" is not a valid address (non-ASCII local part is refused by the sender too)
    assert "Line 2" in page

    not_text = client.post("/crm/admin/suppressions/import", data={
        "csrf_token": token, "file": (io.BytesIO(b"\xff\xfe\x00a"), "x.csv")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "save it from the spreadsheet as “CSV UTF-8”" in not_text.get_data(as_text=True)

    raw = client.get("/crm/admin/suppressions/export.csv").data
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {r["Fingerprint (SHA-256 of the address)"] for r in rows} == set(reasons)
    assert {r["Reason"] for r in rows} == {"Blocked by the shop"}
    viewer = logged_in(segmented_app, role="viewer", email="v@shop.test")
    assert viewer.get("/crm/admin/suppressions").status_code == 200
    assert viewer.get("/crm/admin/suppressions/export.csv").status_code == 403
    assert "Download the list" not in viewer.get("/crm/admin/suppressions").get_data(as_text=True)


def test_users_change_their_own_password(segmented_app):
    email, password = create_user(segmented_app, email="mia@shop.test", password="first-password-1", role="viewer")
    client = segmented_app.test_client()
    login(client, email, password)
    token = csrf_token(client, "/crm/admin/account")

    def change(current, new, repeated):
        return client.post("/crm/admin/account", data={"csrf_token": token, "current": current, "new": new,
                                                       "repeated": repeated}, follow_redirects=True)

    assert "The current password is not right" in change("guess-guess-1", "second-password-2",
                                                         "second-password-2").get_data(as_text=True)
    assert "The two new passwords differ" in change(password, "second-password-2", "second-password-3").get_data(
        as_text=True)
    assert "at least 10 characters" in change(password, "short", "short").get_data(as_text=True)
    with segmented_app.app_context():
        assert db.session.scalar(sa.select(User).where(User.email == email)).check_password(password)
    assert "Your password is changed" in change(password, "second-password-2", "second-password-2").get_data(
        as_text=True)
    fresh = segmented_app.test_client()
    assert login(fresh, email, "second-password-2").status_code == 302
    assert "Wrong email or password" in login(segmented_app.test_client(), email, password).get_data(as_text=True)
    time.sleep(0)  # (no waiting: the change is committed before the answer)
