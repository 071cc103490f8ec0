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
