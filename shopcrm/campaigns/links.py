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


def unsubscribe_url(template: str, customer_id: int, email: str) -> str:
    token = make_token("unsubscribe", {"c": int(customer_id), "h": address_hash(email)})
    return template.replace("TOKEN", token)
