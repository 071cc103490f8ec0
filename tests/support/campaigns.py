"""Helpers for the campaign and email tests: writable shop copies, stored runs made by hand,
SMTP handlers that misbehave on purpose, and the sender run as a real process."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import sqlalchemy as sa

from shopcrm import PROJECT_ROOT, create_app
from shopcrm.clock import utcnow
from shopcrm.extensions import db, mail
from shopcrm.models import Membership, Run, Segment
from tests.support.apps import TEST_SECRET, base_config, migrate
from tests.support.smtp import RecordingHandler, free_port

SHOP_CLOCK = "%Y-%m-%d %H:%M:%S"


def writable_shop(tmp_path: Path, demo_shop_file: Path) -> Path:
    """A copy of the demo shop this test may change (as the shop itself would)."""
    path = tmp_path / "shop_copy.db"
    shutil.copy(demo_shop_file, path)
    return path


def shop_execute(shop_file: Path, sql: str, params: tuple = ()) -> list:
    """Run SQL on the shop copy directly: the shop's own activity (orders, carts, views)."""
    con = sqlite3.connect(shop_file)
    try:
        rows = con.execute(sql, params).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def consenting_customers(shop_file: Path, limit: int, offset: int = 0) -> list[tuple[int, str, str]]:
    """(id, email, first name) of active customers with consent and a plain, unique address."""
    rows = shop_execute(shop_file, "SELECT customer_id, email, first_name FROM customers WHERE newsletter = 1 "
                                   "AND active = 1 AND email LIKE '%_@_%.%' AND email NOT LIKE '%<%' "
                                   "AND lower(email) IN (SELECT lower(email) FROM customers GROUP BY lower(email) "
                                   "HAVING COUNT(*) = 1) ORDER BY customer_id LIMIT ? OFFSET ?", (limit, offset))
    return [(int(r[0]), r[1], r[2]) for r in rows]


def seed_run(customer_ids: list[int], segment_name: str = "Hand-made segment", **membership) -> tuple[Run, Segment]:
    """A succeeded run with one segment holding ``customer_ids`` (inside an app context).

    ``membership`` sets analytics columns on every member, or per customer when given a dict.
    """
    run = Run(kind="segmentation", status="succeeded", started_at=utcnow(), finished_at=utcnow(),
              as_of=datetime(2026, 11, 1), counts={"customers": len(customer_ids)})
    db.session.add(run)
    db.session.flush()
    segment = Segment(run_id=run.id, label=0, name=segment_name, size=len(customer_ids), top=[], centroid=[])
    db.session.add(segment)
    db.session.flush()
    rows = []
    for cid in customer_ids:
        values = {k: (v.get(cid) if isinstance(v, dict) else v) for k, v in membership.items()}
        values.setdefault("value_type", "ordinary")
        rows.append({"run_id": run.id, "customer_id": cid, "segment_id": segment.id, "frequency": 1,
                     "monetary": 10.0, "top_categories": "1,2", **values})
    db.session.execute(Membership.__table__.insert(), rows)
    db.session.commit()
    return run, segment


def use_smtp(app, port: int, **settings) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, **settings)
    mail.init_app(app)


def delivered_to(handler: RecordingHandler) -> list[str]:
    with handler.lock:
        return [address.lower() for m in handler.messages for address in m["to"]]


def link_in(body: str, pattern: str) -> str:
    match = re.search(pattern, body)
    assert match, f"no link matching {pattern!r}"
    return match.group(0)


# --- SMTP servers: pipelining or not, and handlers that misbehave on purpose --------------------------

class Pipelining:
    """Mix-in: the server offers PIPELINING (RFC 2920), as Postfix, Exim and most relays do."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING", responses[-1]]


def start_smtp(handler, pipelining: bool = False):
    """Start an aiosmtpd server on a free loopback port; returns (handler, controller)."""
    from aiosmtpd.controller import Controller

    if pipelining:
        handler.__class__ = type(f"Pipelining{type(handler).__name__}", (Pipelining, type(handler)), {})
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    return handler, controller


class SlowHandler(RecordingHandler):
    """Takes ``delay`` seconds to accept each message, like a busy relay."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


class DroppingHandler(RecordingHandler):
    """Accepts ``accept`` messages, then drops the connection in the middle of the next one —
    at its recipient, so its end never goes out — and refuses everything while ``down`` is set.
    (A drop after a message's end leaves it in doubt instead: tests/support/faults.py.)"""

    def __init__(self, accept: int):
        super().__init__()
        self.accept = accept
        self.down = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.down or len(self.messages) >= self.accept:
            self.down = True
            server.transport.close()
            return "421 going down"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def parse(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


# --- the sender as a real process ---------------------------------------------------------------

def process_env(tmp_path: Path, crm_url: str, shop_file: Path, smtp_port: int, **settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPCRM_") or k.startswith("SHOPCRM_TEST_")}
    env.update({
        "SHOPCRM_ENV": "testing", "SHOPCRM_SECRET_KEY": TEST_SECRET, "SHOPCRM_DATABASE_URI": crm_url,
        "SHOPCRM_SHOP_DATABASE_URI": f"sqlite:///{shop_file}", "SHOPCRM_INSTANCE_PATH": str(tmp_path / "instance"),
        "SHOPCRM_MAIL_SERVER": "127.0.0.1", "SHOPCRM_MAIL_PORT": str(smtp_port),
        "SHOPCRM_MAIL_DEFAULT_SENDER": "Test Shop <shop@shop.test>", "SHOPCRM_PUBLIC_URL": "http://crm.test/crm/",
        "SHOPCRM_SHOP_BASE_URL": "https://shop.test/",
    })
    env.update({k: str(v) for k, v in settings.items()})
    return env


def start_sender(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "shopcrm", "send", *args],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_cli(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "shopcrm", *args], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def wait_until(condition, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def make_outbox_app(tmp_path: Path, crm_url: str, shop_file: Path, **overrides):
    """An app on ``crm_url`` (migrated) reading ``shop_file``."""
    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=crm_url,
                                 SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop_file}", **overrides))
    migrate(app)
    return app


def queue_campaign(app, customer_ids: list[int], name: str = "Offer") -> int:
    """A run holding these customers, a campaign for its segment, enqueued; returns the campaign id."""
    from shopcrm.campaigns.service import create_campaign, enqueue

    with app.app_context():
        _, segment = seed_run(customer_ids)
        campaign = create_campaign(name, {"segment_ids": [segment.id]}, coupon="TEN")
        db.session.commit()
        report = enqueue(campaign)
        assert report.queued == len(customer_ids), report
        return campaign.id


def states(app) -> dict[str, int]:
    from shopcrm.models import Message

    with app.app_context():
        return {s: n for s, n in db.session.execute(sa.select(Message.state, sa.func.count()).group_by(Message.state))}


def tracked_targets(body: str) -> set[str]:
    """Where the tracked links of an email body lead (the addresses their tokens stand for)."""
    import re

    from shopcrm.delivery.clicks import resolve

    return {resolve(token)["u"] for token in re.findall(r"/crm/c/([A-Za-z0-9_.\-]+)", body)}
