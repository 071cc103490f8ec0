"""Tracked links: shop links in an email go through a signed redirect that records the click.

The redirect only ever leads to the shop's own host: the target travels inside the signed
token (so nobody can make shopcrm redirect elsewhere by editing a link), and is checked
against ``SHOPCRM_SHOP_BASE_URL`` again when the link is followed (so a link made before the
shop moved cannot lead to the old host). Links to shopcrm itself (unsubscribe, the shopper's
page) are never rewritten.
"""
from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from ..clock import utcnow
from ..extensions import db
from ..models import Click, Message
from .links import link_template
from .tokens import TokenInvalid, make_token, read_token

_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(.*?)\2""", re.I | re.S)
_TEXT_URL = re.compile(r"""https?://[^\s<>"'()\[\]]+""", re.I)


def _origin(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower(), str(parts.port or (443 if parts.scheme == "https" else 80))


def is_shop_url(url: str, shop_base_url: str | None = None) -> bool:
    """True for an http(s) URL on the shop's own host (and port)."""
    shop = _origin(shop_base_url or current_app.config["SHOPCRM_SHOP_BASE_URL"])
    try:
        target = _origin(url)
    except ValueError:  # e.g. an invalid port
        return False
    return shop is not None and target is not None and target[0] == shop[0] and (
        target[1] == shop[1] or {target[1], shop[1]} == {"80", "443"})


class LinkTracker:
    """Rewrites one message's shop links; built once per enqueue."""

    def __init__(self):
        config = current_app.config
        self.enabled = bool(config["SHOPCRM_TRACK_CLICKS"])
        self.shop_base = config["SHOPCRM_SHOP_BASE_URL"]
        self.own_prefix = config["SHOPCRM_PUBLIC_URL"].rstrip("/") + "/"
        self.redirect = link_template("crm_public.click") if self.enabled else ""

    def _tracked(self, url: str, ident: dict) -> str | None:
        if url.startswith(self.own_prefix) or not is_shop_url(url, self.shop_base):
            return None
        return self.redirect.replace("TOKEN", make_token("click", {**ident, "u": url}))

    def rewrite(self, html_body: str, text_body: str, ident: dict) -> tuple[str, str]:
        """``ident`` names the message (campaign, customer, dedupe key) the clicks belong to."""
        if not self.enabled:
            return html_body, text_body

        def href(match: re.Match) -> str:
            url = html.unescape(match.group(3)).strip()
            tracked = self._tracked(url, ident)
            if tracked is None:
                return match.group(0)
            return f"{match.group(1)}{match.group(2)}{html.escape(tracked)}{match.group(2)}"

        def plain(match: re.Match) -> str:
            url = match.group(0).rstrip(".,;:!?")
            tail = match.group(0)[len(url):]
            tracked = self._tracked(url, ident)
            return (tracked or url) + tail

        return _HREF.sub(href, html_body), _TEXT_URL.sub(plain, text_body)


def _message_for(data: dict):
    return sa.and_(Message.campaign_id == int(data["c"]), Message.customer_id == int(data["k"]),
                   Message.dedupe_key == str(data.get("d", "")))


def follow(token: str) -> str:
    """Record a click and return where to send the shopper; :class:`TokenInvalid` for a
    tampered, expired or foreign link. Commits (a request boundary)."""
    data = read_token("click", token)
    url = data.get("u")
    if not isinstance(url, str) or not is_shop_url(url):
        raise TokenInvalid("this link does not lead to the shop")
    try:
        message_id = db.session.scalar(sa.select(Message.id).where(_message_for(data)))
    except (KeyError, TypeError, ValueError):
        raise TokenInvalid("this link is not valid") from None
    if message_id is not None:  # the message may have been erased ("forget me"): still go to the shop
        now = utcnow()
        db.session.execute(sa.update(Message).where(Message.id == message_id).values(
            click_count=Message.click_count + 1, clicked_at=sa.func.coalesce(Message.clicked_at, now)))
        db.session.add(Click(message_id=message_id, campaign_id=int(data["c"]), customer_id=int(data["k"]),
                             url=url[:2000], clicked_at=now))
        db.session.commit()
    return url


def record_open(token: str) -> None:
    """Mark the message opened (first time only). Opens are unreliable (image blocking, mail
    privacy proxies), which is why they are off by default and never used for attribution."""
    data = read_token("open", token)
    try:
        condition = _message_for(data)
    except (KeyError, TypeError, ValueError):
        raise TokenInvalid("this link is not valid") from None
    db.session.execute(sa.update(Message).where(condition, Message.opened_at.is_(None)).values(opened_at=utcnow()))
    db.session.commit()
