"""Small helpers shared by the admin views: paging, shop lookups that degrade gracefully."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

from flask import current_app, flash, request

from ..errors import ShopCRMError
from ..shop import connect_shop, current_mapping

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
    """Run a shop lookup; if the shop is unreachable or mis-mapped, say so and show the rest."""
    try:
        with connect_shop() as conn:
            return lookup(conn, current_mapping(), *args, **kwargs)
    except ShopCRMError as exc:
        flash(f"Shop data is unavailable: {exc}", "error")
        return default
