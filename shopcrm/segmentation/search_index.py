"""Finding customers by name fast: a word index of the shop's customers, kept in ``crm_search_word``.

A shop's customer table has an index on the e-mail address (its own log-in needs one) but none
on names, so "every customer called Anna" is a scan of the whole table, and "every Anna in this
segment" a scan followed by an intersection across two databases. shopcrm therefore keeps its
own index: each customer's name and address split into words, one row per (word, customer),
ordered by word. Looking a word up is then a range of that index, and joining it with the
memberships happens inside shopcrm's database.

What a search matches: every word of the query must begin a word of the customer's first name,
last name or e-mail address ("ann smi" finds Anna Smith; "nna" finds nobody, where a scan of the
shop would have). Accents and case are ignored on every database alike.

The index is a copy of personal data: "forget me" erases a customer's rows with the rest of
shopcrm's data about them, and a rebuild (after every segmentation) drops customers the shop no
longer has. Customers who signed up after the last build are still found, by a scan of the
shop restricted to ids above the last indexed one; a customer who changed their name since is
found under the new name after the next build (until then under the old, and the page shows the
shop's current name).
"""
from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..clock import utcnow
from ..extensions import db
from ..models import Membership, Run, SearchWord, State
from ..shop.mapping import ShopMapping

STATE_NAME = "search_index"
WORD_LENGTH = SearchWord.word.type.length
MAX_QUERY_WORDS = 4
NEWER_LIMIT = 1000  # sign-ups since the last build a search looks among
_SPLIT = re.compile(r"[^\w]+|_+")
READ_BATCH = 5000
WRITE_BATCH = 5000


def normalise(text: str | None) -> str:
    """Lower case without accents: 'Zoë' and 'zoe' are the same word on SQLite and MariaDB alike."""
    if not text:
        return ""
    if str(text).isascii():
        return str(text).lower()
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words_of(first_name: str | None, last_name: str | None, email: str | None) -> set[str]:
    """The words a customer can be found by: the words of their names, and of their address
    its local part whole ('anna.smith42'), its pieces ('anna', 'smith42') and its domain."""
    found: set[str] = set()
    for name in (first_name, last_name):
        found.update(w for w in _SPLIT.split(normalise(name)) if w)
    address = normalise(email).strip()
    if address:
        local, _, domain = address.partition("@")
        found.update(w for w in (local, domain) if w)
        found.update(w for w in _SPLIT.split(local) if w)
    return {w[:WORD_LENGTH] for w in found}


def query_words(text: str) -> list[str]:
    """The words of an admin's query (at most a few, longest first: they narrow the most)."""
    words = {w for w in _SPLIT.split(normalise(text)) if w}
    return sorted(words, key=lambda w: (-len(w), w))[:MAX_QUERY_WORDS]


def matches(words: Iterable[str], customer: dict) -> bool:
    """Whether a customer's current data still answers the query (the index may be older)."""
    own = words_of(customer.get("first_name"), customer.get("last_name"), customer.get("email"))
    return all(any(w.startswith(q[:WORD_LENGTH]) for w in own) for q in words)


@dataclass(frozen=True)
class IndexState:
    built_at: str
    max_customer_id: int
    customers: int
    words: int
    seconds: float
    run_id: int | None = None  # the run whose segments the index holds


def current_state() -> IndexState | None:
    """The last build, or None when the index was never built (searches then scan the shop)."""
    state = State.read(STATE_NAME)
    if state is None or not isinstance(state.data, dict):
        return None
    try:
        return IndexState(**state.data)
    except TypeError:  # written by another version: treat as missing, the next build replaces it
        return None


def _shop_customers(conn: sa.Connection, mapping: ShopMapping) -> Iterator[list]:
    """The shop's customers in id order, a batch at a time (keyset pages: each one an index range)."""
    src = mapping.source("customer", ("id", "email", "first_name", "last_name"))
    last = None
    while True:
        query = sa.select(src.c.id, src.c.email, src.c.first_name, src.c.last_name).order_by(src.c.id).limit(READ_BATCH)
        if last is not None:
            query = query.where(src.c.id > last)
        rows = conn.execute(query).all()
        if not rows:
            return
        last = rows[-1][0]
        yield rows


def build(conn: sa.Connection, mapping: ShopMapping) -> IndexState:
    """Rebuild the index from the shop, in one transaction of shopcrm's database (readers keep
    seeing the previous index until it commits). Commits."""
    started = time.perf_counter()
    table = SearchWord.__table__
    customers = words = 0
    max_id = 0
    session = db.session
    run = Run.current()
    segment_of = {} if run is None else dict(session.execute(
        sa.select(Membership.customer_id, Membership.segment_id).where(Membership.run_id == run.id)).all())
    session.execute(sa.delete(table))
    pending: list[dict] = []
    for rows in _shop_customers(conn, mapping):
        for customer_id, email, first_name, last_name in rows:
            if customer_id is None:
                continue
            customer_id = int(customer_id)
            customers += 1
            max_id = max(max_id, customer_id)
            segment_id = segment_of.get(customer_id)
            for word in words_of(first_name, last_name, email):
                pending.append({"word": word, "customer_id": customer_id, "segment_id": segment_id})
        if len(pending) >= WRITE_BATCH:
            session.execute(table.insert(), pending)
            words += len(pending)
            pending = []
    if pending:
        session.execute(table.insert(), pending)
        words += len(pending)
    state = IndexState(built_at=utcnow().isoformat(timespec="seconds"), max_customer_id=max_id, customers=customers,
                       words=words, seconds=round(time.perf_counter() - started, 2),
                       run_id=None if run is None else run.id)
    State.write(STATE_NAME, state.__dict__)
    session.commit()
    return state


def place(run_id: int, customer_ids: list[int]) -> None:
    """Record the segments customers were just placed in (assign-new, between runs) for those
    the index already holds (not committed); customers it does not hold yet are found in the
    shop, above its newest id."""
    state = current_state()
    if state is None or state.run_id != run_id or not customer_ids:
        return
    member = sa.select(Membership.segment_id).where(Membership.run_id == run_id,
                                                    Membership.customer_id == SearchWord.customer_id)
    for start in range(0, len(customer_ids), 500):
        db.session.execute(sa.update(SearchWord).where(SearchWord.customer_id.in_(customer_ids[start:start + 500]))
                           .values(segment_id=member.scalar_subquery()))


def forget(customer_id: int) -> int:
    """Erase one customer's words (not committed): part of "forget me"."""
    return db.session.execute(sa.delete(SearchWord).where(SearchWord.customer_id == customer_id)).rowcount


def words_for(customer_id: int) -> list[str]:
    """The words shopcrm keeps for one customer (their data export shows them)."""
    return list(db.session.scalars(sa.select(SearchWord.word).where(SearchWord.customer_id == customer_id)
                                   .order_by(SearchWord.word)))


def _starts_with(column, word: str):
    escaped = word[:WORD_LENGTH].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(escaped + "%", escape="\\")


def matching_ids(words: list[str]) -> sa.Select:
    """A SELECT of the ids of indexed customers with a word beginning with each query word.

    Driven by the first (longest) word's index range; every further word is one probe of the
    (customer, word) index per candidate."""
    query = sa.select(SearchWord.customer_id).where(_starts_with(SearchWord.word, words[0]))
    for word in words[1:]:
        other = aliased(SearchWord)
        query = query.where(sa.exists().where(other.customer_id == SearchWord.customer_id,
                                              _starts_with(other.word, word)))
    return query.distinct()


def uses_index(text: str) -> IndexState | None:
    """The index state when ``text`` is a query the word index answers: not an e-mail address
    (the shop's own e-mail index answers those), not empty, and an index has been built."""
    if "@" in text[1:] or not query_words(text):
        return None
    return current_state()


def newer_matches(conn: sa.Connection, mapping: ShopMapping, words: list[str], state: IndexState,
                  limit: int) -> list[dict]:
    """Customers who signed up after the index was built and answer the query."""
    from ..shop import queries as shopq

    return [row for row in shopq.search_customers_above(conn, mapping, words, state.max_customer_id, limit)
            if matches(words, row)]


def id_page(found: sa.Select, offset: int, size: int) -> tuple[list[int], int]:
    """One page of the customer ids ``found`` selects, lowest first, and how many it selects:
    one statement (the count rides on every row as a window), one pass over the matches
    instead of a count and a page that each collect them. A page past the end counts apart."""
    matches_ = found.subquery()
    rows = db.session.execute(sa.select(matches_.c.customer_id, sa.func.count().over())
                              .order_by(matches_.c.customer_id).limit(size).offset(offset)).all()
    if rows:
        return [int(r[0]) for r in rows], int(rows[0][1])
    if offset == 0:
        return [], 0
    return [], db.session.scalar(sa.select(sa.func.count()).select_from(matches_)) or 0


def find_page(conn: sa.Connection, mapping: ShopMapping, text: str, state: IndexState, offset: int,
              size: int) -> tuple[list[dict], int]:
    """One page of the customers a query finds, lowest id first, and how many there are in all.

    The index gives the page's ids and the count; the shop gives their current rows (a
    customer renamed since the build drops out of the page rather than show under a name that
    no longer matches) and the customers who signed up after the build, who sort last."""
    from ..shop import queries as shopq

    words = query_words(text)
    newer = newer_matches(conn, mapping, words, state, NEWER_LIMIT)
    ids, indexed = id_page(matching_ids(words), offset, size)
    current = shopq.customers_by_ids(conn, mapping, ids) if ids else {}
    rows = [current[i] for i in ids if i in current and matches(words, current[i])]
    rows += newer[max(0, offset - indexed):max(0, offset + size - indexed)]
    if offset == 0 and text.isdigit() and len(text) < 19:  # a customer id: that customer first
        by_id = shopq.customers_by_ids(conn, mapping, [int(text)]).get(int(text))
        if by_id is not None and all(r["id"] != by_id["id"] for r in rows):
            rows.insert(0, by_id)
    return rows, indexed + len(newer)


def refresh(wait: float = 60) -> IndexState:
    """Rebuild the index from the shop under the ``search-index`` lock (two cron jobs that both
    rebuild it take turns). Commits."""
    from flask import current_app

    from ..locks import job_lock
    from ..shop import connect_shop, current_mapping

    ttl = current_app.config["SHOPCRM_LOCK_TTL_SECONDS"]
    with job_lock("search-index", ttl=ttl, wait=wait), connect_shop() as conn:
        return build(conn, current_mapping())
