"""Absolute links for emails, which are built outside any request (by cron)."""
from __future__ import annotations

from flask import current_app, url_for

from .addresses import address_hash
from .tokens import make_token


def link_template(endpoint: str) -> str:
    """An absolute URL for ``endpoint`` with the placeholder ``TOKEN``, built once per batch.

    Outside a request, the public address comes from ``SHOPCRM_PUBLIC_URL`` (where shopcrm is
    mounted, e.g. ``https://shop.example.com/crm/``).
    """
    with current_app.test_request_context("/", base_url=current_app.config["SHOPCRM_PUBLIC_URL"]):
        return url_for(endpoint, token="TOKEN", _external=True)


def shopper_claims(customer_id: int, email: str) -> dict:
    """What a shopper's links identify: the shop customer and the hash of the address mailed."""
    return {"c": int(customer_id), "h": address_hash(email)}


def unsubscribe_url(template: str, customer_id: int, email: str) -> str:
    return template.replace("TOKEN", make_token("unsubscribe", shopper_claims(customer_id, email)))


class FooterLinks:
    """The links every email carries (unsubscribe, the shopper's page, the optional open
    pixel), with the URL templates built once per enqueue instead of once per message."""

    def __init__(self):
        config = current_app.config
        self.unsubscribe = link_template("crm_public.unsubscribe")
        self.preferences = link_template("crm_public.shopper_home")
        self.opens = link_template("crm_public.opened") if config["SHOPCRM_TRACK_OPENS"] else None
        self.shop_name = config["SHOPCRM_SHOP_NAME"]

    def for_message(self, customer_id: int, email: str, ident: dict) -> dict:
        claims = shopper_claims(customer_id, email)
        return {
            "unsubscribe_url": self.unsubscribe.replace("TOKEN", make_token("unsubscribe", claims)),
            "preferences_url": self.preferences.replace("TOKEN", make_token("preferences", claims)),
            "open_pixel_url": self.opens.replace("TOKEN", make_token("open", ident)) if self.opens else None,
            "shop_name": self.shop_name,
        }
