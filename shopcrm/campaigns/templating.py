"""Email templates that admins edit, rendered in Jinja's sandbox.

The sandbox refuses access to Python internals (``__class__``, ``__globals__``, ...) and the
immutable variant refuses to modify the data it is given. HTML bodies are auto-escaped, so a
product called ``<script>...`` arrives as text. Subjects and text bodies are not HTML and are
not escaped; a subject's line breaks are removed so it cannot inject headers.

Every message is wrapped in a fixed layout (``templates/email/layout.*``) that adds the
visible unsubscribe link and the link to the shopper's own page; admins cannot remove them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from ..errors import TemplateError

EMAIL_TEMPLATE_DIR = Path(__file__).resolve().parent.parent.parent / "templates" / "email"

_html_env = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                                          lstrip_blocks=True)
_text_env = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined, trim_blocks=True,
                                          lstrip_blocks=True)
_layout_html = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_layout_text = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def default_template(name: str) -> dict[str, str]:
    """The shipped template ``name`` (e.g. ``segment_offer``) as subject/html/text sources."""
    parts = {}
    for part, suffix in (("subject", "subject.txt"), ("html", "html"), ("text", "txt")):
        path = EMAIL_TEMPLATE_DIR / f"{name}.{suffix}"
        if not path.is_file():
            raise TemplateError(f"no default email template {path.name}")
        parts[part] = path.read_text(encoding="utf-8").strip() + ("\n" if part != "subject" else "")
    return parts


class CompiledTemplates:
    """A campaign's three templates, compiled once and rendered per customer."""

    def __init__(self, subject: str, html: str, text: str):
        try:
            self.subject = _text_env.from_string(subject)
            self.html = _html_env.from_string(html)
            self.text = _text_env.from_string(text)
        except TemplateSyntaxError as exc:
            raise TemplateError(f"template error on line {exc.lineno}: {exc.message}") from exc
        self.layout_html = _layout_html.from_string((EMAIL_TEMPLATE_DIR / "layout.html").read_text(encoding="utf-8"))
        self.layout_text = _layout_text.from_string((EMAIL_TEMPLATE_DIR / "layout.txt").read_text(encoding="utf-8"))

    def render(self, context: dict, footer: dict) -> Rendered:
        """Render for one customer; ``footer`` carries the links the layout always shows."""
        try:
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
        html = self.layout_html.render(body=Markup(html_body), subject=subject, **footer)
        text = self.layout_text.render(body=text_body.strip(), **footer)
        return Rendered(subject=subject[:250], html=html, text=text)


def validate_templates(subject: str, html: str, text: str, sample_context: dict, footer: dict) -> Rendered:
    """Compile and render once with sample data: how the admin learns of mistakes before launch."""
    return CompiledTemplates(subject, html, text).render(sample_context, footer)
