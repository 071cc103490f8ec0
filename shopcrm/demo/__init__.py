"""The demo shop: a realistic, deterministic shop in the generic schema, written for ``make demo``,
the tests and the benchmarks. It is the only part of shopcrm that writes shop tables, and only
into a database it is pointed at explicitly (never through the read-only shop connection)."""
from __future__ import annotations

from datetime import datetime

from . import generator, schema
from .generator import DemoShop, generate
from .writer import ShopExists, append, write

__all__ = ["DemoShop", "ShopExists", "append", "build", "generate", "generator", "schema", "write"]


def build(url: str, customers: int = 3000, seed: int = 42, now: datetime | None = None,
          views_per_customer: float = 40.0, replace: bool = False) -> dict[str, int]:
    """Generate the demo shop and write it to the database at ``url``; rows written per table.

    MariaDB/MySQL get ``local_infile`` so that big demo shops load with LOAD DATA.
    """
    import sqlalchemy as sa

    from ..private_files import private_sqlite

    private_sqlite(url)  # a new SQLite file is 0600, like shopcrm's own
    engine = sa.create_engine(url, connect_args={"local_infile": True} if url.startswith("mysql") else {})
    try:
        return write(engine, generate(seed=seed, customers=customers, now=now, views_per_customer=views_per_customer),
                     replace=replace)
    finally:
        engine.dispose()
