"""``make demo`` has no dead ends: the product links of the demo's e-mails lead to a shop page that
exists, and "Run now" and "Launch" complete while the demo serves (its jobs run as cron would)."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.cli.demo import DemoJobs
from shopcrm.demo.shopfront import DemoDispatcher, create_shop_app
from shopcrm.extensions import db
from shopcrm.models import Campaign, Message, Run
from tests.support.apps import TEST_SECRET, base_config, dispose

SETTINGS = {"SHOPCRM_SHOP_NAME": "Demo Shop", "SHOPCRM_CURRENCY": "EUR", "SHOPCRM_LOCALE": "en_GB",
            "SHOPCRM_PUBLIC_URL": "http://127.0.0.1:5000/crm/"}


def test_the_demo_shop_serves_the_pages_the_products_link_to(demo_shop_file, demo_shop):
    shop = create_shop_app(f"sqlite:///{demo_shop_file}", SETTINGS).test_client()
    products = demo_shop.tables["products"]
    product_id, name, url = (int(products["product_id"][5]), str(products["name"][5]), str(products["url"][5]))
    assert url == f"/product.php?id={product_id}"  # what the e-mails link to, under the shop's address
    page = shop.get(url)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert name.replace("&", "&amp;").replace("'", "&#39;") in body and "€" in body
    assert 'href="http://127.0.0.1:5000/crm/admin/"' in body
    picture = shop.get(f"/img/p{product_id}.jpg")
    assert picture.status_code == 200 and picture.mimetype == "image/svg+xml" and b"<svg" in picture.data
    assert shop.get("/").status_code == 200 and b"/product.php?id=" in shop.get("/").data
    assert shop.get("/product.php?id=987654321").status_code == 404
    assert shop.get("/product.php").status_code == 404
    xss = shop.get(f"/product.php?id={int(products['product_id'][0])}").get_data(as_text=True)
    assert "<script>alert" not in xss  # the demo's planted <script> product name is escaped


def test_one_port_serves_the_shop_and_shopcrm(app, demo_shop_file):
    shop = create_shop_app(f"sqlite:///{demo_shop_file}", SETTINGS)
    both = DemoDispatcher(shop.wsgi_app, app)
    from werkzeug.test import Client

    client = Client(both)
    assert client.get("/crm/admin/login").status_code == 200
    assert client.get("/product.php?id=1001").status_code == 200
    assert client.get("/crm").status_code in (301, 302, 308)


def test_run_now_and_launch_complete_while_the_demo_serves(segmented_app):
    """The jobs thread does in one round what the cron commands do: the queued analysis, the
    launched campaign rendered and written to the outbox."""
    from shopcrm.campaigns.service import create_campaign, launch
    from shopcrm.segmentation.queue import queue_run

    with segmented_app.app_context():
        queued, _ = queue_run(requested_by="owner@shop.test")
        segment = max(Run.current().segments, key=lambda s: s.size)
        campaign = create_campaign("Launched from the panel", {"segment_ids": [segment.id]})
        launch(campaign)
        db.session.commit()
        queued_id, campaign_id = queued.id, campaign.id
    said = []
    jobs = DemoJobs(segmented_app, every=1, echo=lambda text, err=False: said.append(text))
    jobs.run_once()
    with segmented_app.app_context():
        assert db.session.get(Run, queued_id).status == "succeeded" and Run.current().id == queued_id
        assert db.session.get(Campaign, campaign_id).status != "scheduled"
        sent = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
            Message.campaign_id == campaign_id, Message.state == "sent"))
    assert sent > 0 and len(list(Path(segmented_app.config["SHOPCRM_OUTBOX_DIR"]).glob("*.eml"))) == sent
    assert any(f"analysis #{queued_id} is done" in line for line in said)
    assert any(f"{sent:,} e-mails written" in line for line in said)
    jobs.start()  # and as a thread: it stops when asked
    jobs.stop()
    assert not jobs.thread.is_alive()


def test_demo_serve_refuses_production(tmp_path):
    app = create_app(base_config(tmp_path, TESTING=False, SHOPCRM_ENV="production", SECRET_KEY=TEST_SECRET * 2))
    try:
        result = app.test_cli_runner().invoke(args=["shopcrm", "demo-serve", "--port", "5999"])
        assert result.exit_code != 0 and "serves the demo only" in result.output
    finally:
        dispose(app)
