"""A real-shop site the tests share: OpenCart, shopcrm beside it, and what the shoppers did."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from tests.support.deploy import Apache, Deployment, flask_cli
from tests.support.smtp import RecordingHandler

from . import shoppers
from .harness import PREFIX, Databases, OpenCart, Release

#: OpenCart's order statuses the tests set as a shop admin would.
PENDING, COMPLETE, CANCELED = 1, 5, 7


@dataclass
class Site:
    release: Release
    shop: OpenCart
    deployment: Deployment
    apache: Apache
    dbs: Databases
    smtp: RecordingHandler
    settings: dict
    catalog: dict[str, int]  # product name -> product_id, from OpenCart's demo data
    shoppers: list[shoppers.Shopper]
    beacon_edit: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)  # order_id -> the status the admin gave it
    engines: dict[str, sa.Engine] = field(default_factory=dict)

    def _engine(self, database: str) -> sa.Engine:
        if database not in self.engines:
            self.engines[database] = self.dbs.root_engine(database)
        return self.engines[database]

    def shop_engine(self) -> sa.Engine:
        """Root's view of OpenCart's tables, for reading what OpenCart wrote (never for writing)."""
        return self._engine(self.dbs.shop)

    def crm_engine(self) -> sa.Engine:
        return self._engine(self.dbs.crm)

    def flask(self, *args: str, timeout: float = 300) -> str:
        return flask_cli(self.deployment, *args, timeout=timeout)

    def customers(self) -> dict[str, int]:
        """email -> customer_id, as OpenCart stored them."""
        with self.shop_engine().connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT customer_id, email FROM {PREFIX}customer")
            return {email: cid for cid, email in rows}
