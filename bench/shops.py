"""The benchmark's shops: demo shops of fixed sizes in MariaDB, built once and reused.

Each size lives in its own database (``shopcrm_bench_10k``, ``shopcrm_bench_100k``,
``shopcrm_bench_1m``). A ``bench_info`` table, written last, records how the shop was
generated and its row counts; a database without it (an interrupted build) or with other
parameters is rebuilt. ``drop_all`` removes every benchmark database.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa

from shopcrm import demo

DB_PREFIX = "shopcrm_bench_"
BENCH_NOW = datetime(2026, 11, 1)


@dataclass(frozen=True)
class ShopSize:
    """How one benchmark shop is generated."""

    name: str
    customers: int
    views_per_customer: float
    order_rate: float
    products_per_category: int = 100
    seed: int = 42
    schema: int = 2  # the generic schema's version: 2 added the customers' e-mail index

    @property
    def database(self) -> str:
        return DB_PREFIX + self.name


# 53 views per customer gives ~5M views for 100k customers (6% never come back); order_rate 1.4
# gives ~0.95M order lines plus ~40k cart items. The 1M shop keeps the orders per customer but
# has a fifth of the views per customer (10M views instead of 50M), which keeps its build under
# a few minutes and its tables under 2 GB; the benchmark prints this next to its figures.
SIZES = {
    "10k": ShopSize("10k", 10_000, 53.0, 1.4),
    "100k": ShopSize("100k", 100_000, 53.0, 1.4),
    "1m": ShopSize("1m", 1_000_000, 10.6, 1.4),
}

INFO_TABLE = "bench_info"


def server_url(base: str, database: str | None = None) -> str:
    """``base`` is a server URL without a database, e.g. mysql+pymysql://root@127.0.0.1/."""
    head, _, query = base.partition("?")
    head = head.rstrip("/")
    return f"{head}/{database or ''}" + (f"?{query}" if query else "")


def _info(engine: sa.Engine) -> dict | None:
    with engine.connect() as conn:
        if INFO_TABLE not in sa.inspect(conn).get_table_names():
            return None
        raw = conn.execute(sa.text(f"SELECT info FROM {INFO_TABLE}")).scalar()
    return json.loads(raw) if raw else None


def ensure_shop(base_url: str, size: ShopSize, say=print) -> dict:
    """The shop of ``size``, built now if it is missing, incomplete or built differently."""
    admin = sa.create_engine(server_url(base_url))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS `{size.database}` CHARACTER SET utf8mb4"))
    admin.dispose()
    engine = sa.create_engine(server_url(base_url, size.database), connect_args={"local_infile": True})
    try:
        info = _info(engine)
        if info and info.get("size") == asdict(size):
            return info
        say(f"building the {size.name} shop in {size.database} (once; later runs reuse it) ...")
        started = time.perf_counter()
        shop = demo.generate(seed=size.seed, customers=size.customers, now=BENCH_NOW,
                             views_per_customer=size.views_per_customer, order_rate=size.order_rate,
                             products_per_category=size.products_per_category)
        generated = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {INFO_TABLE}"))
        counts = demo.write(engine, shop, replace=True)
        del shop
        info = {"size": asdict(size), "counts": counts, "now": BENCH_NOW.isoformat(),
                "generate_seconds": round(generated, 1), "build_seconds": round(time.perf_counter() - started, 1)}
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {INFO_TABLE} (info TEXT NOT NULL)"))
            conn.execute(sa.text(f"INSERT INTO {INFO_TABLE} (info) VALUES (:info)"), {"info": json.dumps(info)})
        say(f"built in {info['build_seconds']} s: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
        return info
    finally:
        engine.dispose()


def drop_all(base_url: str, say=print) -> None:
    """Drop every benchmark database (shops and the crm database of the runs)."""
    admin = sa.create_engine(server_url(base_url))
    with admin.begin() as conn:
        names = [r[0] for r in conn.execute(sa.text("SHOW DATABASES")) if r[0].startswith(DB_PREFIX)]
        for name in names:
            conn.execute(sa.text(f"DROP DATABASE `{name}`"))
    admin.dispose()
    say("dropped: " + (", ".join(names) if names else "nothing (no benchmark databases)"))
