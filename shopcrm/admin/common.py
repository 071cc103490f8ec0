"""Small helpers shared by the admin views: paging, the request's shop reads, messages."""
from __future__ import annotations

from flask import current_app, flash, g, request

from ..customers.reader import ShopReader
from ..paging import Page
from . import bp


def page_from_request(total: int, size: int | None = None) -> Page:
    try:
        number = max(1, int(request.args.get("page", 1)))
    except ValueError:
        number = 1
    return Page(number, size or current_app.config["SHOPCRM_PAGE_SIZE"], total)


def shop_reader() -> ShopReader:
    """This request's shop reads (one connection, returned when the request ends); a lookup the
    shop cannot answer says so on the page, which shows the rest."""
    reader = g.get("shop_reader")
    if reader is None:
        reader = g.shop_reader = ShopReader(lambda text: flash(f"Shop data is unavailable: {text}", "error"))
    return reader


@bp.teardown_request
def _release_shop(exc: BaseException | None = None) -> None:
    reader = g.pop("shop_reader", None)
    if reader is not None:
        reader.close()


def as_sentence(text: object) -> str:
    """A service's message (written for the command line, lower case) as a sentence for a page."""
    text = str(text)
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


@bp.app_template_filter("country")
def country_name(code: str | None) -> str:
    """``DE`` → ``Germany`` in the shop's language (a value that is no country code stays as it is)."""
    from ..formatting import babel_locale

    if not code:
        return "—"
    text = str(code).strip()
    if len(text) == 2 and text.isalpha():
        return babel_locale().territories.get(text.upper(), text)
    return text


@bp.app_template_filter("source")
def source_name(source: str | None) -> str:
    """``google_ads`` → ``Google Ads`` (vocab.SOURCE_LABELS)."""
    from ..vocab import source_label

    return source_label(source)


@bp.app_template_filter("month")
def month_filter(month: str | None) -> str:
    """``2026-10`` → ``October 2026`` in the shop's language."""
    from ..customers.today import month_name

    try:
        return month_name(str(month)) if month else ""
    except ValueError:
        return str(month)
