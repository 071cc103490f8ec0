"""Finding customers by name, e-mail or id: from shopcrm's word index a page at a time, or,
without an index yet or for an e-mail address, the shop's first matches."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import Membership, Run
from ..paging import Page
from ..segmentation import search_index
from .reader import ShopReader

SEARCH_LIMIT = 100  # shop matches shown when the word index cannot answer


def find(text: str, page_number: int, page_size: int, reader: ShopReader) -> tuple[list[dict], Page | None]:
    """The customers a search finds, and the page they are (``None``: the shop's first
    ``SEARCH_LIMIT`` matches, unpaged)."""
    state = search_index.uses_index(text) if text else None
    if state is not None:
        found, total = reader.find_page(text, state, (page_number - 1) * page_size, page_size)
        return found, Page(page_number, page_size, total)
    return (reader.search(text, SEARCH_LIMIT) if text else []), None


def value_types_of(customer_ids: list[int]) -> dict[int, str]:
    """The value type of each customer in the current run."""
    run = Run.current()
    if not customer_ids or run is None:
        return {}
    return dict(db.session.execute(sa.select(Membership.customer_id, Membership.value_type).where(
        Membership.run_id == run.id, Membership.customer_id.in_(customer_ids))).all())
