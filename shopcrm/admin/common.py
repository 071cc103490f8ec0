"""Small helpers shared by the admin views: paging, shop lookups that degrade gracefully."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

import sqlalchemy as sa
from flask import current_app, flash, g, request

from ..errors import ShopCRMError
from ..shop import connect_shop, current_mapping
from . import bp

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def page_from_request(total: int, size: int | None = None) -> Page:
    try:
        number = max(1, int(request.args.get("page", 1)))
    except ValueError:
        number = 1
    return Page(number, size or current_app.config["SHOPCRM_PAGE_SIZE"], total)


def from_shop(lookup: Callable[..., T], default: T, *args, **kwargs) -> T:
    """Run a shop lookup; if the shop is unreachable or mis-mapped, say so and show the rest.

    A page's lookups share one shop connection (and one read snapshot), checked out at the
    first and returned when the request ends: a profile makes three of them, and each
    checkout costs a ping and a rollback, round trips the page would otherwise wait for."""
    try:
        conn = g.get("shop_connection")
        if conn is None:
            conn = g.shop_connection = connect_shop()
        return lookup(conn, current_mapping(), *args, **kwargs)
    except ShopCRMError as exc:
        _release_shop()
        flash(f"Shop data is unavailable: {exc}", "error")
        return default
    except BaseException:
        _release_shop()
        raise


@bp.teardown_request
def _release_shop(exc: BaseException | None = None) -> None:
    conn = g.pop("shop_connection", None)
    if conn is not None:
        try:
            conn.close()
        except sa.exc.SQLAlchemyError:
            pass  # a broken connection is discarded by the pool; the page is already answered


def as_sentence(text: object) -> str:
    """A service's message (written for the command line, lower case) as a sentence for a page."""
    text = str(text)
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
