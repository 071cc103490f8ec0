"""Tracked links: shop links in an email go through a signed redirect that records the click.

A tracked link is short, because plain-text emails show it whole: ``/crm/c/<link>-<customer>-<mac>``
— the number of the shop address in ``crm_link`` (one row per campaign, occasion and address,
not per message), the customer's id, and an HMAC-SHA-256 of both under the app's secret key,
cut to 13 base-62 characters (77 bits), so a link cannot be guessed or edited into another
customer's or another address. About 45 characters with a typical public address, where the
signed-JSON token of earlier versions made ~150; those older links keep working.

The redirect only ever leads to the shop's own host: the target is stored by shopcrm (or, in
older links, signed into the token), so nobody can make shopcrm redirect elsewhere by editing
a link, and it is checked against ``SHOPCRM_SHOP_BASE_URL`` again when the link is followed (so
a link made before the shop moved cannot lead to the old host). Links to shopcrm itself
(unsubscribe, the shopper's page) are never rewritten. The admin's previews and test emails
are not tracked at all (``campaigns.outbox.OutboxWriter(track=False)``).
"""
from __future__ import annotations

import hashlib
import hmac
import html
import re
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from ..clock import utcnow
from ..dbutil import insert_ignoring_duplicates
from ..extensions import db
from ..models import Click, Message, TrackedLink
from .links import link_template
from .tokens import MAX_AGE, TokenInvalid, read_token

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MAC_CHARS = 13  # base 62: 77 bits of the HMAC
_SHORT = re.compile(r"([0-9A-Za-z]{1,12})-([0-9A-Za-z]{1,12})-([0-9A-Za-z]{%d})" % MAC_CHARS)
LINK_CACHE_LIMIT = 50_000  # link numbers a writer keeps in memory (per-cart links would grow without end)

# Rewritten HTML has been through the CSS inliner's serializer (campaigns.templating.inline_css):
# attribute names in lower case, values in double quotes; matching exactly that form is several
# times faster than a pattern for every way HTML may be written, on bodies of ~10 kB.
_HREF = re.compile(r'(\bhref=)(")([^"]*)"')
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


def _base62(number: int) -> str:
    text = ""
    while True:
        number, digit = divmod(number, 62)
        text = _DIGITS[digit] + text
        if not number:
            return text


def _from_base62(text: str) -> int:
    number = 0
    for char in text:
        number = number * 62 + _DIGITS.index(char)
    return number


def _signer():
    return hmac.new((current_app.secret_key or "").encode("utf-8"), digestmod=hashlib.sha256)


def _mac(link_id: int, customer_id: int, signer=None) -> str:
    mac = (signer or _signer()).copy()
    mac.update(f"shopcrm.click:{link_id}:{customer_id}".encode("ascii"))
    return _base62(int.from_bytes(mac.digest()[:10], "big") % 62 ** MAC_CHARS).rjust(MAC_CHARS, "0")


def short_token(link_id: int, customer_id: int, signer=None) -> str:
    """The token of a tracked link: link number, customer id, signature."""
    return f"{_base62(link_id)}-{_base62(customer_id)}-{_mac(link_id, customer_id, signer)}"


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


class LinkTracker:
    """Rewrites one message's shop links into short tracked links; built once per enqueue.

    Each shop address gets its number in ``crm_link`` the first time a campaign's occasion uses
    it (in the writer's transaction, committed with the messages); later messages find it in
    this tracker's memory."""

    def __init__(self):
        config = current_app.config
        self.enabled = bool(config["SHOPCRM_TRACK_CLICKS"])
        self.shop_base = config["SHOPCRM_SHOP_BASE_URL"]
        self.own_prefix = config["SHOPCRM_PUBLIC_URL"].rstrip("/") + "/"
        self.redirect = link_template("crm_public.click") if self.enabled else ""
        self.numbers: dict[tuple[int, str, str], int] = {}
        self.trackable: dict[str, bool] = {}
        self.insert = insert_ignoring_duplicates(TrackedLink.__table__, db.engine.dialect.name)
        self.signer = _signer() if self.enabled else None

    def _trackable(self, url: str) -> bool:
        known = self.trackable.get(url)
        if known is None:
            if len(self.trackable) > LINK_CACHE_LIMIT:
                self.trackable.clear()
            known = self.trackable[url] = not url.startswith(self.own_prefix) and is_shop_url(url, self.shop_base)
        return known

    def _number(self, campaign_id: int, dedupe_key: str, urls: set[str]) -> dict[str, int]:
        """The link number of each address, stored where it is new."""
        missing = sorted(u for u in urls if (campaign_id, dedupe_key, u) not in self.numbers)
        if missing:
            if len(self.numbers) > LINK_CACHE_LIMIT:
                self.numbers.clear()
            hashes = {url_hash(u): u for u in missing}
            now = utcnow()
            db.session.execute(self.insert, [{"campaign_id": campaign_id, "dedupe_key": dedupe_key, "url_hash": h,
                                              "url": u, "created_at": now} for h, u in hashes.items()])
            for link_id, digest in db.session.execute(
                    sa.select(TrackedLink.id, TrackedLink.url_hash).where(
                        TrackedLink.campaign_id == campaign_id, TrackedLink.dedupe_key == dedupe_key,
                        TrackedLink.url_hash.in_(list(hashes)))):
                self.numbers[(campaign_id, dedupe_key, hashes[digest])] = int(link_id)
        return {u: self.numbers[(campaign_id, dedupe_key, u)] for u in urls}

    def rewrite(self, html_body: str, text_body: str, ident: dict) -> tuple[str, str]:
        """``ident`` names the message (campaign, customer, dedupe key) the clicks belong to.

        One pass over each body when every address already has its number (most messages of a
        campaign); a first pass to collect and number new addresses otherwise."""
        if not self.enabled:
            return html_body, text_body
        campaign_id, customer_id, dedupe_key = int(ident["c"]), int(ident["k"]), str(ident.get("d", ""))
        links: dict[str, str | None] = {}
        missing: set[str] = set()

        def tracked(url: str) -> str | None:
            if url in links:
                return links[url]
            if not self._trackable(url):
                links[url] = None
                return None
            number = self.numbers.get((campaign_id, dedupe_key, url))
            if number is None:
                missing.add(url)
                return None
            links[url] = self.redirect.replace("TOKEN", short_token(number, customer_id, self.signer))
            return links[url]

        def href(match: re.Match) -> str:
            link = tracked(html.unescape(match.group(3)).strip())
            if link is None:
                return match.group(0)
            return f"{match.group(1)}{match.group(2)}{html.escape(link)}{match.group(2)}"

        def plain(match: re.Match) -> str:
            url = match.group(0).rstrip(".,;:!?")
            return (tracked(url) or url) + match.group(0)[len(url):]

        html_out, text_out = _HREF.sub(href, html_body), _TEXT_URL.sub(plain, text_body)
        if not missing:
            return html_out, text_out
        self._number(campaign_id, dedupe_key, missing)
        links.clear()
        missing.clear()
        return _HREF.sub(href, html_body), _TEXT_URL.sub(plain, text_body)


#: An SMS's tracked links carry this before the occasion's key, so a click counts for the text,
#: not for the e-mail of the same campaign and occasion.
SMS_LINK_PREFIX = "sms|"


def _message_for(data: dict):
    key, channel = str(data.get("d", "")), "email"
    if key.startswith(SMS_LINK_PREFIX):
        key, channel = key[len(SMS_LINK_PREFIX):], "sms"
    return sa.and_(Message.campaign_id == int(data["c"]), Message.customer_id == int(data["k"]),
                   Message.dedupe_key == key, Message.channel == channel)


def resolve(token: str) -> dict:
    """What a tracked link stands for — campaign ``c``, customer ``k``, occasion ``d``, address
    ``u`` — without recording anything; :class:`TokenInvalid` for a tampered, expired or
    unknown link."""
    short = _SHORT.fullmatch(token)
    if short is None:
        return read_token("click", token)  # a link of an email queued before links were short
    link_id, customer_id = _from_base62(short.group(1)), _from_base62(short.group(2))
    if not hmac.compare_digest(_mac(link_id, customer_id), short.group(3)):
        raise TokenInvalid("this link is not valid")
    link = db.session.get(TrackedLink, link_id)
    if link is None:
        raise TokenInvalid("this link is no longer valid")
    if link.created_at < utcnow() - timedelta(seconds=MAX_AGE["click"]):
        raise TokenInvalid("this link has expired")
    return {"c": link.campaign_id, "k": customer_id, "d": link.dedupe_key, "u": link.url}


def follow(token: str) -> str:
    """Record a click and return where to send the shopper; :class:`TokenInvalid` for a
    tampered, expired or foreign link. Commits (a request boundary)."""
    data = resolve(token)
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
