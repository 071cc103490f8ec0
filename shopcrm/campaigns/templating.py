"""Email templates that admins edit, rendered in Jinja's sandbox.

The sandbox refuses access to Python internals (``__class__``, ``__globals__``, ...) and the
immutable variant refuses to modify the data it is given. Each message renders under the
budgets of ``template_limits`` (time, output, loop iterations, value sizes, numbers), so a
template cannot exhaust the sender's memory or time either; a template over a limit is refused
when it is saved (it is rendered with sample data) and again for each message. HTML bodies are
auto-escaped, so a product called ``<script>...`` arrives as text. Subjects and text bodies are
not HTML and are not escaped; a subject's line breaks are removed so it cannot inject headers.

Every message is wrapped in a fixed layout (``templates/email/layout.*``) that adds the
visible unsubscribe link and the link to the shopper's own page; admins cannot remove them.

Variables every template sees (all plain text; the HTML template escapes them):

``customer.first_name`` / ``.last_name`` / ``.email``, ``segment.name``, ``top_categories``
(names), ``products`` (recommendations: ``name``, ``price``, ``url``, ``image_url``),
``coupon``, ``shop.name`` / ``shop.url``; and, in triggered emails, ``cart`` (the abandoned
cart's products, with ``quantity``) or ``viewed`` (the product looked at).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError
from markupsafe import Markup

from ..config import TEMPLATE_DIR
from ..errors import TemplateError
from .template_limits import LimitedSandbox, render_budget

EMAIL_TEMPLATE_DIR = TEMPLATE_DIR / "email"


class EmailSandbox(LimitedSandbox):
    """Jinja's immutable sandbox with the budgets of ``template_limits``."""


_OPTIONS = {"undefined": StrictUndefined, "trim_blocks": True, "lstrip_blocks": True}
_html_env = EmailSandbox(autoescape=True, **_OPTIONS)
_text_env = EmailSandbox(autoescape=False, **_OPTIONS)
_layout_html = EmailSandbox(autoescape=True, undefined=StrictUndefined)
_layout_text = EmailSandbox(autoescape=False, undefined=StrictUndefined)
TEMPLATE_NAMES = ("segment_offer", "run_offer", "abandoned_cart", "browse_abandonment", "win_back")


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def default_template(name: str) -> dict[str, str]:
    """The shipped template ``name`` (e.g. ``segment_offer``) as subject/html/text sources."""
    if name not in TEMPLATE_NAMES:
        raise TemplateError(f"no default email template {name!r}; known: {', '.join(TEMPLATE_NAMES)}")
    parts = {}
    for part, suffix in (("subject", "subject.txt"), ("html", "html"), ("text", "txt")):
        path = EMAIL_TEMPLATE_DIR / f"{name}.{suffix}"
        parts[part] = path.read_text(encoding="utf-8").strip() + ("\n" if part != "subject" else "")
    return parts


@functools.lru_cache(maxsize=8)
def _layout(html: bool, name: str):
    """The shipped layouts: compiled once per process (they are files of the package)."""
    env = _layout_html if html else _layout_text
    return env.from_string((EMAIL_TEMPLATE_DIR / name).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=256)
def _compile(html: bool, source: str):
    """Compiling is most of a preview's time; a campaign's sources change only when edited, so
    the compiled template is kept per process, keyed by the source itself. Jinja templates
    are safe to render from several threads."""
    return (_html_env if html else _text_env).from_string(source)


class CompiledTemplates:
    """A campaign's three templates, compiled once and rendered per customer."""

    def __init__(self, subject: str, html: str, text: str):
        try:
            self.subject = _compile(False, subject)
            self.html = _compile(True, html)
            self.text = _compile(False, text)
        except TemplateSyntaxError as exc:
            raise TemplateError(f"template error on line {exc.lineno}: {exc.message}") from exc
        except SecurityError as exc:
            raise TemplateError(f"the template tried something that is not allowed: {exc}") from exc
        self.layout_html = _layout(True, "layout.html")
        self.layout_text = _layout(False, "layout.txt")

    def render(self, context: dict, footer: dict) -> Rendered:
        """Render for one customer; ``footer`` carries the links the layout always shows."""
        try:
            with render_budget():
                subject = " ".join(self.subject.render(context).split())
                html_body = self.html.render(context)
                text_body = self.text.render(context)
        except SecurityError as exc:
            raise TemplateError(f"the template tried something that is not allowed: {exc}") from exc
        except UndefinedError as exc:
            raise TemplateError(f"the template uses an unknown variable: {exc.message}") from exc
        except TemplateError:
            raise
        except Exception as exc:  # a filter misused on real data, a division by zero, ...
            raise TemplateError(f"the template failed to render: {type(exc).__name__}: {exc}") from exc
        if not subject:
            raise TemplateError("the subject is empty once rendered")
        footer = {"preferences_url": None, "open_pixel_url": None, **footer}
        html = self.layout_html.render(body=Markup(html_body), subject=subject, **footer)
        text = self.layout_text.render(body=text_body.strip(), **footer)
        return Rendered(subject=subject[:250], html=html, text=text)


SAMPLE_PRODUCT = {"name": "Sample product", "price": "€10.00", "url": "https://shop.example/p/1",
                  "image_url": None, "quantity": 1}


def sample_context(shop_name: str = "Shop", shop_url: str = "https://shop.example/") -> dict:
    """Made-up data with every variable filled: how a template is checked before launch."""
    return {
        "customer": {"first_name": "Alex", "last_name": "Sample", "email": "alex@example.com"},
        "segment": {"name": "Sample segment"},
        "top_categories": ["Category A", "Category B"],
        "products": [dict(SAMPLE_PRODUCT), {**SAMPLE_PRODUCT, "name": "Another product"}],
        "coupon": "SAMPLE10",
        "shop": {"name": shop_name, "url": shop_url},
        "cart": [dict(SAMPLE_PRODUCT)],  # copies: a caller may change its sample, not everyone's
        "viewed": dict(SAMPLE_PRODUCT),
    }


SAMPLE_FOOTER = {"unsubscribe_url": "https://shop.example/crm/u/sample", "preferences_url": None,
                 "open_pixel_url": None, "shop_name": "Shop"}


def validate_templates(subject: str, html: str, text: str, sample: dict | None = None) -> Rendered:
    """Compile and render once with sample data: how the admin learns of mistakes before launch."""
    return CompiledTemplates(subject, html, text).render(sample or sample_context(), SAMPLE_FOOTER)
