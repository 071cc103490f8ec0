"""An SMS as it goes out: the shop's name first, the marketer's text, a short tracked link, and
the opt-out line.

The marketer writes only the middle (``Campaign.sms_body``, default ``templates/sms/default.txt``),
rendered in the same sandbox and under the same budgets as e-mail templates (``templating``):
``customer.first_name``, ``shop.name``, ``coupon``, ``segment.name`` and ``link`` are there.
The frame is fixed, as the e-mail layout is: recipients must see who writes and how to stop
("Reply STOP to opt out"), and carriers filter texts without it. Whitespace runs become one
space, since every character costs (``delivery.sms.segments``).
"""
from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError

from ..config import TEMPLATE_DIR
from ..delivery.sms.segments import SmsSize, measure
from ..errors import TemplateError
from .templating import _compile, render_budget

SMS_TEMPLATE_DIR = TEMPLATE_DIR / "sms"
OPT_OUT_LINE = "Reply STOP to opt out"


def default_sms_body() -> str:
    return (SMS_TEMPLATE_DIR / "default.txt").read_text(encoding="utf-8").strip()


def compose(shop_name: str, text: str, link: str | None) -> str:
    """The frame around the marketer's text (see the module docstring)."""
    text = " ".join(text.split())
    name = " ".join((shop_name or "").split())
    if name and not text.startswith(name):
        text = f"{name}: {text}"
    if link and link not in text:
        text = f"{text} {link}"
    return f"{text}\n{OPT_OUT_LINE}"


class SmsTemplate:
    """A campaign's SMS text, compiled once and rendered per customer."""

    def __init__(self, source: str | None):
        self.source = (source or "").strip() or default_sms_body()
        try:
            self.template = _compile(False, self.source)
        except TemplateSyntaxError as exc:
            raise TemplateError(f"SMS template error on line {exc.lineno}: {exc.message}") from exc
        except SecurityError as exc:
            raise TemplateError(f"the SMS template tried something that is not allowed: {exc}") from exc

    def render(self, context: dict, link: str | None) -> str:
        try:
            with render_budget():
                text = self.template.render({**context, "link": link or ""})
        except SecurityError as exc:
            raise TemplateError(f"the SMS template tried something that is not allowed: {exc}") from exc
        except UndefinedError as exc:
            raise TemplateError(f"the SMS template uses an unknown variable: {exc.message}") from exc
        except TemplateError:
            raise
        except Exception as exc:  # noqa: BLE001 - a filter misused on real data
            raise TemplateError(f"the SMS template failed to render: {type(exc).__name__}: {exc}") from exc
        if not text.strip():
            raise TemplateError("the SMS text is empty once rendered")
        return compose((context.get("shop") or {}).get("name", ""), text, link)


@dataclass(frozen=True)
class SmsEstimate:
    """What the campaign page shows: one example message's size and the audience's cost."""

    text: str
    size: SmsSize
    recipients: int
    price_per_segment: float

    @property
    def cost(self) -> float:
        return self.size.segments * self.recipients * self.price_per_segment


SAMPLE_LINK = "https://shop.example/crm/c/1A-2B-abcdefghijklm"


def sample_sms(source: str | None, shop_name: str, coupon: str | None = None) -> str:
    """The SMS for a sample customer, with a link as long as a real tracked one."""
    context = {"customer": {"first_name": "Alex", "last_name": "Sample"}, "shop": {"name": shop_name},
               "coupon": coupon or "", "segment": {"name": "Sample segment"}}
    return SmsTemplate(source).render(context, SAMPLE_LINK)


def estimate(source: str | None, shop_name: str, recipients: int, price_per_segment: float,
             coupon: str | None = None) -> SmsEstimate:
    text = sample_sms(source, shop_name, coupon)
    return SmsEstimate(text, measure(text), recipients, price_per_segment)


def campaign_estimate(source: str | None, recipients: int, coupon: str | None = None) -> dict:
    """What the campaign page shows of its SMS: the sample text, its characters, segments and
    encoding (and the characters that force UCS-2), and the cost for ``recipients`` texts at
    ``SHOPCRM_SMS_PRICE_PER_SEGMENT`` in the shop's currency (Babel)."""
    from flask import current_app

    from ..formatting import money

    config = current_app.config
    price = float(config.get("SHOPCRM_SMS_PRICE_PER_SEGMENT") or 0)
    found = estimate(source, config["SHOPCRM_SHOP_NAME"], recipients, price, coupon)
    return {"text": found.text, "characters": found.size.characters, "segments": found.size.segments,
            "encoding": found.size.encoding, "forcing": found.size.forcing_ucs2,
            "segments_as_gsm": found.size.segments_as_gsm, "recipients": recipients,
            "price": money(price), "cost": money(found.cost),
            "frame_prefix": f"{config['SHOPCRM_SHOP_NAME']}: ", "frame_suffix": f" {SAMPLE_LINK}\n{OPT_OUT_LINE}"}
