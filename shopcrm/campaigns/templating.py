"""Email templates that admins edit, rendered in Jinja's sandbox, with the shop's look.

The sandbox refuses access to Python internals (``__class__``, ``__globals__``, ...) and the
immutable variant refuses to modify the data it is given. Each message renders under the
budgets of ``template_limits`` (time, output, loop iterations, value sizes, numbers), so a
template cannot exhaust the sender's memory or time either; a template over a limit is refused
when it is saved (it is rendered with sample data) and again for each message. HTML bodies are
auto-escaped, so a product called ``<script>...`` arrives as text. Subjects and text bodies are
not HTML and are not escaped; a subject's line breaks are removed so it cannot inject headers.

Every message is wrapped in a fixed layout (``templates/email/layout.*``): the shop's logo or
name on top, the hidden preview text (preheader), and a footer with the shop's postal address,
the visible unsubscribe link and the link to the shopper's own page; admins cannot remove them.
The shipped templates are built from blocks (``templates/email/blocks/``: heading and intro,
coupon, cart, viewed product, product cards, call to action) that a template includes with
``{% include "blocks/products.html" %}``; the look is one stylesheet (``templates/email/email.css``)
that css-inline writes into ``style`` attributes of every message, because many mail clients
(Gmail among them) ignore ``<style>``. Nothing in a shipped message depends on a ``<style>``
element or a media query: the layout is fluid (600 px at most, full width on a phone) and the
product cards sit two to a row at any width.

What a marketer writes without template code (``campaigns.content``: preview text, heading,
intro, button label) is rendered first, in the same sandbox and budget (``{{ customer.first_name }}``
works there too), and handed to the templates as ``content``.

Variables every template sees (all plain text; the HTML template escapes them):

``customer.first_name`` / ``.last_name`` / ``.email``, ``segment.name``, ``top_categories``
(names), ``products`` (recommendations: ``name``, ``price`` — already written as money in the
shop's currency and locale — ``url``, ``image_url``), ``coupon``, ``shop.name`` / ``.url`` /
``.logo_url`` / ``.address``, ``content.heading`` / ``.intro`` / ``.paragraphs`` / ``.button`` /
``.preheader``; and, in triggered emails, ``cart`` (the abandoned cart's products, with
``quantity``) or ``viewed`` (the product looked at).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import css_inline
from jinja2 import DictLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError
from markupsafe import Markup

from ..config import TEMPLATE_DIR
from ..errors import TemplateError
from ..formatting import money
from .template_limits import LimitedSandbox, render_budget

EMAIL_TEMPLATE_DIR = TEMPLATE_DIR / "email"
BLOCK_DIR = EMAIL_TEMPLATE_DIR / "blocks"


class EmailSandbox(LimitedSandbox):
    """Jinja's immutable sandbox with the budgets of ``template_limits``."""


def _block_loader() -> DictLoader:
    """The shipped blocks, read once: a template may include these and nothing else."""
    return DictLoader({f"blocks/{path.name}": path.read_text(encoding="utf-8")
                       for path in sorted(BLOCK_DIR.iterdir()) if path.suffix in (".html", ".txt")})


_OPTIONS = {"undefined": StrictUndefined, "trim_blocks": True, "lstrip_blocks": True, "loader": _block_loader()}
_html_env = EmailSandbox(autoescape=True, **_OPTIONS)
_text_env = EmailSandbox(autoescape=False, **_OPTIONS)
_layout_html = EmailSandbox(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_layout_text = EmailSandbox(autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
TEMPLATE_NAMES = ("segment_offer", "run_offer", "abandoned_cart", "browse_abandonment", "win_back")
#: The stylesheet every message's HTML gets, written into style attributes (remote sheets never loaded).
_INLINER = css_inline.CSSInliner(keep_style_tags=False, keep_link_tags=False, load_remote_stylesheets=False,
                                 extra_css=(EMAIL_TEMPLATE_DIR / "email.css").read_text(encoding="utf-8"))
#: Content fields shown on one line (the intro keeps its paragraphs).
ONE_LINE_FIELDS = ("preheader", "heading", "button")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


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


def inline_css(html: str) -> str:
    """The stylesheet (and any ``<style>`` a marketer added) written into style attributes."""
    try:
        return _INLINER.inline(html)
    except (css_inline.InlineError, ValueError) as exc:
        raise TemplateError(f"the email's CSS could not be applied: {exc}") from exc


class CompiledTemplates:
    """A campaign's templates (subject, HTML, text and the content fields), compiled once and
    rendered per customer."""

    def __init__(self, subject: str, html: str, text: str, content: dict | None = None):
        try:
            self.subject = _compile(False, subject)
            self.html = _compile(True, html)
            self.text = _compile(False, text)
            # plain wording (no "{") is used as it is: most fields are, and a render costs per message
            self.content = {key: _compile(False, str(value)) if "{" in str(value) else str(value)
                            for key, value in (content or {}).items()
                            if key in (*ONE_LINE_FIELDS, "intro") and value}
        except TemplateSyntaxError as exc:
            raise TemplateError(f"template error on line {exc.lineno}: {exc.message}") from exc
        except SecurityError as exc:
            raise TemplateError(f"the template tried something that is not allowed: {exc}") from exc
        self.layout_html = _layout(True, "layout.html")
        self.layout_text = _layout(False, "layout.txt")

    def _content(self, context: dict) -> dict:
        """The marketer's fields rendered for this customer (plain text, one line each but the intro)."""
        fields = {key: "" for key in (*ONE_LINE_FIELDS, "intro")}
        for key, template in self.content.items():
            value = template if isinstance(template, str) else template.render(context)
            fields[key] = value.strip() if key == "intro" else " ".join(value.split())
        fields["paragraphs"] = [" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(fields["intro"]) if p.strip()]
        return fields

    def render(self, context: dict, footer: dict) -> Rendered:
        """Render for one customer; ``footer`` carries the links the layout always shows."""
        try:
            with render_budget():
                content = self._content(context)
                context = {**context, "content": content}
                subject = " ".join(self.subject.render(context).split())
                html_body = self.html.render(context)
                text_body = self.text.render(context)
        except SecurityError as exc:
            raise TemplateError(f"the template tried something that is not allowed: {exc}") from exc
        except UndefinedError as exc:
            raise TemplateError(f"the template uses an unknown variable: {exc.message}") from exc
        except TemplateNotFound as exc:
            raise TemplateError(f"the template includes {exc.name!r}, which does not exist; blocks: "
                                f"{', '.join(_OPTIONS['loader'].list_templates())}") from exc
        except TemplateError:
            raise
        except Exception as exc:  # a filter misused on real data, a division by zero, ...
            raise TemplateError(f"the template failed to render: {type(exc).__name__}: {exc}") from exc
        if not subject:
            raise TemplateError("the subject is empty once rendered")
        shop = {**SAMPLE_SHOP, **(context.get("shop") or {})}
        footer = {"preferences_url": None, "open_pixel_url": None, "unsubscribe_url": "", "notice": None, **footer,
                  "shop": shop, "preheader": content["preheader"]}
        footer.setdefault("shop_name", shop["name"])
        html = inline_css(self.layout_html.render(body=Markup(html_body), subject=subject, **footer))
        text = self.layout_text.render(body=text_body.strip(), **footer)
        return Rendered(subject=subject[:250], html=html, text=text)


def shop_context(name: str, url: str, logo_url: str | None = None, address: str | None = None) -> dict:
    """What templates see of the shop; the address as lines (the settings separate them by commas)."""
    lines = [part.strip() for part in re.split(r"[,\n]", address or "") if part.strip()]
    return {"name": name, "url": url, "logo_url": logo_url or None, "address": ", ".join(lines),
            "address_lines": lines}


SAMPLE_SHOP = shop_context("Shop", "https://shop.example/")
SAMPLE_PRODUCT = {"name": "Sample product", "price": "", "url": "https://shop.example/p/1", "image_url": None,
                  "quantity": 1}


def sample_context(shop_name: str = "Shop", shop_url: str = "https://shop.example/", shop: dict | None = None) -> dict:
    """Made-up data with every variable filled: how a template is checked before launch."""
    product = {**SAMPLE_PRODUCT, "price": money(10)}  # in the shop's currency when an app is active
    return {
        "customer": {"first_name": "Alex", "last_name": "Sample", "email": "alex@example.com"},
        "segment": {"name": "Sample segment"},
        "top_categories": ["Category A", "Category B"],
        "products": [dict(product), {**product, "name": "Another product"}],
        "coupon": "SAMPLE10",
        "shop": shop or shop_context(shop_name, shop_url),
        "cart": [dict(product)],  # copies: a caller may change its sample, not everyone's
        "viewed": dict(product),
    }


SAMPLE_FOOTER = {"unsubscribe_url": "https://shop.example/crm/u/sample", "preferences_url": None,
                 "open_pixel_url": None, "shop_name": "Shop"}


def validate_templates(subject: str, html: str, text: str, sample: dict | None = None,
                       content: dict | None = None) -> Rendered:
    """Compile and render once with sample data: how the admin learns of mistakes before launch."""
    return CompiledTemplates(subject, html, text, content).render(sample or sample_context(), SAMPLE_FOOTER)
