"""Every shipped email as a shopper sees it: each template (the campaign one and every trigger's)
rendered for a real demo customer and for one with an empty cart and no views, opened in a real
Chromium at desktop (1366 px) and phone (390 px) width, screenshotted into test-artifacts/.

The shop's pictures come from a small image server on loopback (the demo shop's image paths,
answered with a drawn placeholder per product), so the screenshots show cards as a shopper
would see them."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from shopcrm.campaigns import preview
from shopcrm.campaigns.service import create_campaign
from shopcrm.campaigns.templating import TEMPLATE_NAMES
from shopcrm.campaigns.triggers import ensure_triggers
from shopcrm.extensions import db
from shopcrm.models import Campaign, Membership, Run
from tests.support.browser import ARTIFACTS, browser
from tests.support.campaigns import shop_execute
from tests.support.pictures import picture_server

WIDTHS = {"desktop": 1366, "phone": 390}
ADDRESS = "Demo Shop GmbH, Hauptstraße 1, 10115 Berlin, Germany"
def customers_for_previews(shop_file) -> tuple[int, int]:
    """A member of the run with a cart and views, and one with neither (an empty cart, no views)."""
    with_cart = shop_execute(shop_file, "SELECT c.customer_id FROM cart_items c JOIN product_views v "
                                        "ON v.customer_id = c.customer_id ORDER BY c.customer_id LIMIT 1")[0][0]
    run = Run.current()
    members = [int(c) for c in db.session.scalars(sa.select(Membership.customer_id).where(Membership.run_id == run.id)
                                                  .order_by(Membership.customer_id))]
    busy = {int(r[0]) for r in shop_execute(shop_file, "SELECT customer_id FROM cart_items UNION "
                                                       "SELECT customer_id FROM product_views WHERE customer_id IS NOT NULL")}
    empty = next(c for c in members if c not in busy)
    return int(with_cart), empty


def all_templates() -> dict[str, Campaign]:
    """The campaign template (a draft for the biggest segment) and every trigger's campaign."""
    campaigns = {t.kind: t.campaign for t in ensure_triggers()}
    segment = max(Run.current().segments, key=lambda s: s.size)
    campaigns["segment_offer"] = create_campaign("Spring picks", {"segment_ids": [segment.id]}, coupon="SPRING10")
    for kind, campaign in campaigns.items():
        campaign.coupon = campaign.coupon or "THANKS5"
    db.session.commit()
    assert set(campaigns) == set(TEMPLATE_NAMES)
    return campaigns


@pytest.mark.browser
def test_every_email_looks_like_a_shops_at_desktop_and_phone_width(segmented_app, demo_shop_file):
    with picture_server() as pictures:
        look(segmented_app, demo_shop_file, pictures)


def look(segmented_app, demo_shop_file, pictures):
    segmented_app.config.update(SHOPCRM_SHOP_BASE_URL=pictures, SHOPCRM_SHOP_LOGO_URL=f"{pictures}logo.svg",
                                SHOPCRM_SHOP_ADDRESS=ADDRESS)
    rendered = {}
    with segmented_app.app_context():
        busy, empty = customers_for_previews(demo_shop_file)
        for name, campaign in all_templates().items():
            for who, customer_id in (("customer", busy), ("empty", empty)):
                rendered[(name, who)] = preview.render(campaign, customer_id)
    ARTIFACTS.mkdir(exist_ok=True)
    with browser() as chromium:
        for (name, who), shown in rendered.items():
            html = shown.rendered.html
            assert "<style" not in html  # everything the content needs is inlined
            assert ADDRESS in html and "Unsubscribe" in html and f"{pictures}logo.svg" in html
            text = shown.rendered.text
            assert ADDRESS in text and "None" not in text and "{" not in text, (name, who)
            assert (who == "empty" and name in ("abandoned_cart", "browse_abandonment")) == bool(shown.notes), (name, who)
            if shown.notes:  # an example is marked as one, in the e-mail itself
                assert text.startswith("[Example") and 'class="example"' in html
            for device, width in WIDTHS.items():
                page = chromium.new_page(viewport={"width": width, "height": 900})
                page.set_content(html, wait_until="load")
                # nothing wider than the screen: readable without zooming or scrolling sideways
                assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, who, device)
                broken = page.evaluate("[...document.images].filter(i => i.src.startsWith('http') && "
                                       "!i.naturalWidth).map(i => i.src)")
                assert broken == [], (name, who, device)
                button = page.locator("a.button")
                assert button.count() == 1 and button.first.is_visible()  # one clear call to action
                if name in ("segment_offer", "run_offer", "win_back"):
                    cards = page.locator("a.card-button")
                    assert cards.count() >= 2 and cards.first.is_visible()
                    assert page.evaluate("getComputedStyle(document.querySelector('.card-price')).fontWeight") == "700"
                page.screenshot(path=str(ARTIFACTS / f"email-{name}-{who}-{device}.png"), full_page=True)
                page.close()
