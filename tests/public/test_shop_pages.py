"""The shopper's pages (unsubscribe, their own page, a link that no longer works) name the shop and
lead back to it: no dead corner for someone who came from an e-mail."""
from __future__ import annotations


def test_the_shoppers_pages_name_the_shop_and_lead_back_to_it(segmented_app):
    from shopcrm.delivery.tokens import make_token

    with segmented_app.test_request_context():
        token = make_token("unsubscribe", {"c": 1, "h": "a" * 64})
    page = segmented_app.test_client().get(f"/crm/u/{token}").get_data(as_text=True)
    assert 'class="shop-name" href="https://shop.test/">Demo Shop</a>' in page
    assert "Back to the shop" in page
    bad = segmented_app.test_client().get("/crm/u/broken-token")
    assert bad.status_code == 400 and 'href="https://shop.test/"' in bad.get_data(as_text=True)
    assert "Links in our e-mails last a while" in bad.get_data(as_text=True)
    assert "This link is not valid." in bad.get_data(as_text=True)  # a sentence, not the service's lower-case note


def test_an_address_outside_the_panel_gets_the_shoppers_page(segmented_app):
    response = segmented_app.test_client().get("/crm/no-such-thing")
    body = response.get_data(as_text=True)
    assert response.status_code == 404 and "Not found" in body and 'class="shop-bar"' in body
    assert 'aria-label="Main"' not in body  # not the panel's menu
