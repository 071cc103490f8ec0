"""The shop reads of one page (or one export): one connection for all of them, and a page that
still shows the rest when the shop is unreachable or its mapping does not fit.

A page's lookups share one shop connection (and one read snapshot), checked out at the first
and returned when the page is done: a profile makes several, and each checkout costs a ping
and a rollback, round trips the page would otherwise wait for.
"""
from __future__ import annotations

from typing import Callable, Iterable, TypeVar

import sqlalchemy as sa

from ..errors import ShopCRMError
from ..segmentation import search_index
from ..shop import connect_shop, current_mapping, timeline
from ..shop import queries as shopq
from . import shop_reads

T = TypeVar("T")


class ShopReader:
    """Shop lookups that degrade: a failed one returns its default and reports the problem."""

    def __init__(self, on_problem: Callable[[str], None] = lambda text: None):
        self.conn: sa.Connection | None = None
        self.on_problem = on_problem

    def read(self, lookup: Callable[..., T], default: T, *args, **kwargs) -> T:
        try:
            if self.conn is None:
                self.conn = connect_shop()
            return lookup(self.conn, current_mapping(), *args, **kwargs)
        except ShopCRMError as exc:
            self.close()
            self.on_problem(str(exc))
            return default
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except sa.exc.SQLAlchemyError:
                pass  # a broken connection is discarded by the pool; the page is already answered

    # --- the lookups the panel makes ------------------------------------------------------------

    def customers(self, ids: Iterable[int], columns: tuple[str, ...] | None = None) -> dict[int, dict]:
        """Shop rows by id (none when the shop cannot answer)."""
        ids = list(ids)
        return self.read(shopq.customers_by_ids, {}, ids, columns=columns) if ids else {}

    def customer(self, customer_id: int) -> dict | None | bool:
        """One shop row; ``False`` when the shop has no such customer, ``None`` when it cannot answer."""
        found = self.read(shopq.customers_by_ids, None, [customer_id])
        return None if found is None else found.get(customer_id, False)

    def search(self, text: str, limit: int) -> list[dict]:
        return self.read(shopq.search_customers, [], text, limit=limit)

    def search_ids(self, text: str, limit: int) -> list[int]:
        return self.read(shopq.search_customer_ids, [], text, limit=limit)

    def category_names(self) -> dict[int, str]:
        return self.read(shopq.category_names, {})

    def history(self, customer_id: int, extra_product_ids: set[int]) -> dict:
        return self.read(timeline.history, {"views": [], "cart_items": [], "orders": [], "product_names": {}},
                         customer_id, extra_product_ids=extra_product_ids)

    def find_page(self, text: str, state, offset: int, size: int) -> tuple[list[dict], int]:
        return self.read(search_index.find_page, ([], 0), text, state, offset, size)

    def newer_matches(self, words: list[str], state, limit: int) -> list[dict]:
        return self.read(search_index.newer_matches, [], words, state, limit)

    def lifetime(self, customer_id: int) -> dict | None:
        """All of one customer's orders: count, total, first, last (``None``: the shop did not answer)."""
        return self.read(shop_reads.lifetime, None, customer_id)

    def open_carts(self, since) -> shop_reads.OpenCarts | None:
        return self.read(shop_reads.open_carts, None, since)
