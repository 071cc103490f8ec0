"""What a marketer writes in an email without touching template code.

A campaign's subject lives in its own column; the rest of the words a marketer changes from
one send to the next — the preview text shown beside the subject in the inbox (preheader),
the heading, the intro, the label of the one button, how many recommended products — are a
small record stored with the campaign (``crm_campaign.content``). The shipped templates
(``templates/email/*``) show them through their blocks; an edited template may too
(``{{ content.heading }}``). Each shipped template comes with its own wording, which a new
campaign starts from.

The fields are plain text in which the template variables work (``{{ customer.first_name }}``),
rendered in the same sandbox as the templates; in HTML they are escaped, so a ``<b>`` typed
into the heading shows as text.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace

from ..errors import CampaignError

#: Field: (what the form calls it, most characters).
FIELDS = {
    "preheader": ("Preview text", 150),
    "heading": ("Heading", 150),
    "intro": ("Intro", 2000),
    "button": ("Button label", 40),
}
MAX_PRODUCTS = 12
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Content:
    preheader: str = ""
    heading: str = ""
    intro: str = ""
    button: str = "Visit the shop"
    products: int | None = None  # recommended products per email; None: SHOPCRM_RECOMMENDATIONS

    def as_dict(self) -> dict:
        return asdict(self)

    def product_count(self, default: int) -> int:
        return default if self.products is None else self.products


DEFAULTS = {
    "segment_offer": Content(
        preheader="A few things we picked for you",
        heading="Picked for you",
        intro="Hello {{ customer.first_name }}, we picked a few things we think you will like.",
        button="Shop now"),
    "run_offer": Content(
        preheader="A thank-you from {{ shop.name }}",
        heading="Thank you, {{ customer.first_name }}",
        intro="Thank you for shopping with {{ shop.name }}. We put together a few things we think you will like.",
        button="Visit the shop"),
    "abandoned_cart": Content(
        preheader="Your cart is still waiting for you",
        heading="You left something in your cart",
        intro="Hello {{ customer.first_name }}, we kept your cart for you. Pick up where you left off "
              "whenever you like.",
        button="Return to the shop", products=2),
    "browse_abandonment": Content(
        preheader="It is still here for you",
        heading="Still thinking about it, {{ customer.first_name }}?",
        intro="You had a look at this recently. Take another look before it is gone.",
        button="Take another look", products=2),
    "win_back": Content(
        preheader="It has been a while: here is what is new",
        heading="We miss you, {{ customer.first_name }}",
        intro="It has been a while since your last visit to {{ shop.name }}. A lot has arrived since.",
        button="See what is new"),
}


def defaults(template: str | None) -> Content:
    """The wording a campaign made from ``template`` starts with."""
    return DEFAULTS.get(template or "", DEFAULTS["segment_offer"])


def of(campaign) -> Content:
    """A campaign's content: what it stores over its template's defaults (campaigns made before
    the content fields existed store nothing and show their template's wording)."""
    base = defaults(campaign.template or (campaign.kind if campaign.kind in DEFAULTS else None))
    stored = campaign.content if isinstance(campaign.content, dict) else {}
    known = {k: v for k, v in stored.items() if k in (*FIELDS, "products")}
    return replace(base, **known)


def check(fields: dict, base: Content) -> Content:
    """``base`` with the given fields changed; a :class:`CampaignError` names a field that is too
    long, holds control characters or (products) is not a whole number from 0 to 12."""
    changes: dict = {}
    for key, (label, limit) in FIELDS.items():
        if key not in fields or fields[key] is None:
            continue
        value = str(fields[key]).replace("\r\n", "\n").strip()
        if _CONTROLS.search(value):
            raise CampaignError(f"{label}: remove the control characters (pasted from another program?)")
        if key != "intro" and "\n" in value:
            value = " ".join(value.split())
        if len(value) > limit:
            raise CampaignError(f"{label} is {len(value)} characters long; at most {limit} fit")
        changes[key] = value
    if fields.get("products") not in (None, ""):
        try:
            number = int(str(fields["products"]).strip())
        except ValueError:
            raise CampaignError(f"Number of products must be a whole number from 0 to {MAX_PRODUCTS}, "
                                f"not {fields['products']!r}") from None
        if not 0 <= number <= MAX_PRODUCTS:
            raise CampaignError(f"Number of products must be from 0 to {MAX_PRODUCTS}, not {number}")
        changes["products"] = number
    return replace(base, **changes)
