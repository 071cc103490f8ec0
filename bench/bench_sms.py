"""SMS sending: shopcrm's SMS sender against raw ``twilio`` client calls, side by side, in one run.

What is measured
----------------
* shopcrm: ``send_sms_due`` delivering N queued SMS rows (rendered by ``enqueue`` for a
  campaign on the SMS channel, from a demo shop whose customers have mobile numbers and SMS
  consent) at an unlimited rate (``SHOPCRM_SMS_SEND_RATE = 0``): claims, the checks before
  sending (campaign, number, SMS consent, STOP, the shared frequency cap, quiet hours off), a
  committed ``sending`` before each call and the committed answer after it.
* raw: ``twilio.rest.Client(...).messages.create`` with the very same numbers and texts, read
  into memory beforehand, one after the other (no database, no checks), through the same
  routed HTTP client (Twilio's own, pointed at the fake).

Both talk to the loopback fake of Twilio's Messages API (``tests/fakes/twilio_api.py``) in its
own process, which counts what it accepts (each round checks that exactly N messages arrived
from each side). Within a round the two take turns, 500 texts at a time (one claim batch) (each shopcrm turn is a
whole ``send_sms_due`` run: lock, recovery, claims), so both see the same moments of a machine
whose speed drifts; medians of the rounds and their ratio are printed. Everything
lives in a temporary folder and on 127.0.0.1.

    python bench/bench_sms.py                       # 1,000 messages, 3 rounds
    python bench/bench_sms.py --messages 3000 --rounds 5
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve() -> None:
    """The fake Twilio in this process: print its address and credentials; answer "count" on
    stdin with the number of accepted messages, "reset" by forgetting them; stop at EOF."""
    from tests.fakes.twilio_api import FakeTwilio

    with FakeTwilio() as fake:
        print(json.dumps({"url": fake.base_url, "sid": fake.account_sid, "token": fake.auth_token}), flush=True)
        for line in sys.stdin:
            if line.strip() == "count":
                print(len(fake.messages), flush=True)
            elif line.strip() == "reset":
                fake.reset()
                print("ok", flush=True)


class Fake:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.proc.stdout.readline())

    def ask(self, what: str) -> str:
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def build_shop(folder: Path, customers: int, messages: int) -> tuple[Path, list[int]]:
    """A demo shop whose first ``messages`` active customers have a mobile number and SMS consent."""
    import sqlite3

    import sqlalchemy as sa

    from shopcrm import demo

    path = folder / "shop.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    demo.write(engine, demo.generate(seed=42, customers=customers))
    engine.dispose()
    con = sqlite3.connect(path)
    ids = [r[0] for r in con.execute("SELECT customer_id FROM customers WHERE active = 1 ORDER BY customer_id "
                                     "LIMIT ?", (messages,))]
    if len(ids) < messages:
        raise SystemExit(f"the demo shop has only {len(ids)} active customers; raise --customers")
    con.execute("UPDATE customers SET telephone = NULL, sms_optin = 0")
    con.executemany("UPDATE customers SET telephone = ?, sms_optin = 1 WHERE customer_id = ?",
                    [(f"0151 {10_000_000 + i}", cid) for i, cid in enumerate(ids)])
    con.commit()
    con.close()
    return path, ids


def shopcrm_round(folder: Path, shop: Path, ids: list[int], fake: Fake, chunk: int) -> tuple[float, float]:
    """Queue N SMS (not timed); then, a chunk at a time, time ``send_sms_due`` for the chunk and
    raw client calls for the same chunk's texts. Returns both totals in seconds."""
    import sqlalchemy as sa

    from shopcrm import create_app
    from shopcrm.campaigns.service import create_campaign, enqueue
    from shopcrm.delivery.sms.sender import send_sms_due
    from shopcrm.extensions import db
    from shopcrm.models import Message
    from tests.support.apps import base_config, dispose, migrate
    from tests.support.campaigns import seed_run

    run_folder = Path(tempfile.mkdtemp(dir=folder))
    info = fake.info
    app = create_app(base_config(
        run_folder, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}", SHOPCRM_TWILIO_ACCOUNT_SID=info["sid"],
        SHOPCRM_TWILIO_AUTH_TOKEN=info["token"], SHOPCRM_TWILIO_FROM="+4915100000001",
        SHOPCRM_TWILIO_API_URL=info["url"], SHOPCRM_SMS_DEFAULT_REGION="DE", SHOPCRM_SMS_TIME_ZONE="Europe/Berlin",
        SHOPCRM_SMS_QUIET_HOURS="", SHOPCRM_SMS_SEND_RATE=0.0, SHOPCRM_FREQUENCY_CAP=0,
        SHOPCRM_SHOP_NAME="Bench Shop", SHOPCRM_SEND_BATCH_SIZE=chunk))
    migrate(app)
    try:
        with app.app_context():
            _, segment = seed_run(ids)
            campaign = create_campaign("Bench", {"segment_ids": [segment.id]}, coupon="TEN", channel="sms")
            db.session.commit()
            report = enqueue(campaign)
            assert report.queued == len(ids), report
            texts = [(r.phone, r.text) for r in db.session.execute(
                sa.select(Message.phone, Message.text).where(Message.channel == "sms").order_by(Message.id))]
            db.session.commit()
            ours = raw = 0.0
            for first in range(0, len(texts), chunk):
                started = time.perf_counter()
                sent = send_sms_due(max_messages=chunk)
                ours += time.perf_counter() - started
                assert sent.sent == len(texts[first:first + chunk]), sent
                raw += raw_round(texts[first:first + chunk], fake)
        return ours, raw
    finally:
        dispose(app)
        shutil.rmtree(run_folder, ignore_errors=True)


def raw_round(texts: list[tuple[str, str]], fake: Fake) -> float:
    """The same texts through ``Client.messages.create``, one after the other."""
    from twilio.rest import Client

    from shopcrm.delivery.sms.twilio_provider import RoutedHttpClient

    info = fake.info
    client = Client(info["sid"], info["token"], http_client=RoutedHttpClient(info["url"], timeout=30),
                    environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""})
    messages = client.api.v2010.accounts(info["sid"]).messages
    started = time.perf_counter()
    for number, body in texts:
        messages.create(to=number, from_="+4915100000001", body=body,
                        status_callback="http://crm.test/crm/sms/status?m=1")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=3000, help="demo shop size (more than --messages active)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=500,
                        help="the two take turns this many texts at a time (the machine's speed drifts)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="shopcrm-bench-sms-"))
    fake = Fake()
    try:
        shop, ids = build_shop(folder, args.customers, args.messages)
        ours, raw = [], []
        raw_round([("+4915100000002", "warm-up")], fake)  # Twilio's library imports its API modules on first use
        for round_no in range(1, args.rounds + 1):
            fake.ask("reset")
            ours_seconds, raw_seconds = shopcrm_round(folder, shop, ids, fake, args.chunk)
            assert int(fake.ask("count")) == 2 * args.messages  # each text once from each side
            ours.append(args.messages / ours_seconds)
            raw.append(args.messages / raw_seconds)
            print(f"round {round_no}: shopcrm {ours[-1]:,.0f} SMS/s, raw twilio {raw[-1]:,.0f} SMS/s, "
                  f"load {os.getloadavg()[0]:.1f}")
        median_ours, median_raw = statistics.median(ours), statistics.median(raw)
        ratios = sorted(o / r for o, r in zip(ours, raw))
        print(f"median: shopcrm {median_ours:,.0f} SMS/s, raw twilio {median_raw:,.0f} SMS/s, "
              f"ratio {median_ours / median_raw:.2f} (target >= 0.7); per-round ratios "
              + ", ".join(f"{r:.2f}" for r in ratios))
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
              f"{platform.python_version()}, {args.messages} messages, {args.rounds} rounds, SQLite")
    finally:
        fake.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve()
    else:
        main()
