"""Email sending: shopcrm's sender against plain smtplib, side by side, in one run.

What is measured
----------------
* shopcrm: ``send_due`` delivering N personalised outbox rows (rendered by ``enqueue`` from a
  segmented demo shop) to a local aiosmtpd server: claims, checks before sending (consent,
  suppression, cap), one commit per message before its content goes out, Flask-Mail MIME.
* raw: ``smtplib.SMTP.sendmail`` sending the very same messages, pre-rendered to bytes and
  loaded in memory, over one connection, from a separate process (no database, no checks).

Both talk to the same aiosmtpd server, which runs in its own process and counts what it
accepts (every round checks that exactly N messages arrived from each). Within a round the two
take turns in chunks (1,000 messages by default): this machine's speed drifts by a third from
one minute to the next, and taking turns lets both see the same moments. Medians and their
ratio are printed, plus the sender process's RSS at the start, middle and end of each round,
and the database's commit latency (the floor of a per-message commit). Everything lives in a
temporary folder (and, with ``--db mariadb``, a temporary database that is dropped at the
end), so the script can be re-run at will.

    python bench/bench_send.py                      # SQLite, 10,000 messages, 3 rounds
    python bench/bench_send.py --db mariadb         # shopcrm's tables on MariaDB
"""
from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the SMTP sink and the raw sender, each in its own process ---------------------------------

def serve(port: int, pipelining: bool) -> None:
    """Accept everything, count it; answer "count" on stdin with the count; stop at EOF."""
    from aiosmtpd.controller import Controller

    class Counter:
        accepted = 0

        async def handle_DATA(self, server, session, envelope):
            Counter.accepted += 1
            return "250 OK"

        if pipelining:  # offer PIPELINING (RFC 2920) as Postfix, Exim and most relays do
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname
                return responses[:-1] + ["250-PIPELINING", responses[-1]]

    controller = Controller(Counter(), hostname="127.0.0.1", port=port, data_size_limit=0)
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(Counter.accepted, flush=True)
    controller.stop()


def raw_send(port: int, path: str) -> None:
    """Load the pre-rendered messages and open one connection; then, for each line "a b" on
    stdin, send messages a..b-1 over it and print the seconds it took. Stops at EOF."""
    messages = []
    with open(path, "rb") as fh:
        while header := fh.read(8):
            to_len, body_len = struct.unpack("!II", header)
            messages.append((fh.read(to_len).decode(), fh.read(body_len)))
    smtp = smtplib.SMTP("127.0.0.1", port)
    print("ready", flush=True)
    for line in sys.stdin:
        first, last = map(int, line.split())
        started = time.perf_counter()
        for to, body in messages[first:last]:
            smtp.sendmail("shop@bench.test", [to], body)
        print(f"{time.perf_counter() - started:.6f}", flush=True)
    smtp.quit()


class RawSender:
    """The raw smtplib sender, in its own process, one connection for all its chunks."""

    def __init__(self, port: int, path: Path):
        self.proc = subprocess.Popen([sys.executable, __file__, "--raw", str(port), str(path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def send(self, first: int, last: int) -> float:
        self.proc.stdin.write(f"{first} {last}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


class Sink:
    def __init__(self, pipelining: bool):
        self.port, self.pipelining = free_port(), pipelining
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(self.port)]
                                     + (["--pipelining"] if pipelining else []), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def count(self) -> int:
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class RssSampler(threading.Thread):
    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval, self.samples, self.stop = interval, [], threading.Event()

    def run(self):
        started = time.perf_counter()
        while not self.stop.is_set():
            self.samples.append((time.perf_counter() - started, rss_mb()))
            self.stop.wait(self.interval)

    def summary(self) -> tuple[float, float, float, float]:
        end = self.samples[-1][0]
        middle = min(self.samples, key=lambda s: abs(s[0] - end / 2))[1]
        return self.samples[0][1], middle, self.samples[-1][1], max(r for _, r in self.samples)


# --- the benchmark ----------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=16_000, help="demo shop size (enough consenting ones)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, help="rows per claim; default: SHOPCRM_SEND_BATCH_SIZE's")
    parser.add_argument("--chunk", type=int, default=1000,
                        help="messages each side sends in turn within a round (the machine's speed drifts)")
    parser.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--mariadb-url", default=os.environ.get("SHOPCRM_TEST_MARIADB_URL",
                                                                "mysql+pymysql://root@127.0.0.1:3306/"))
    parser.add_argument("--server", choices=("plain", "pipelining", "both"), default="both",
                        help="whether the aiosmtpd server offers PIPELINING (real relays do)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pipelining", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--raw", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.pipelining)
    if args.raw:
        return raw_send(int(args.raw[0]), args.raw[1])

    import sqlalchemy as sa

    tmp = Path(tempfile.mkdtemp(prefix="bench_send_"))
    admin_engine, database = None, None
    if args.db == "mariadb":
        database = f"bench_send_{uuid.uuid4().hex[:8]}"
        admin_engine = sa.create_engine(args.mariadb_url)
        with admin_engine.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        base, _, query = args.mariadb_url.partition("?")
        crm_url = f"{base.rstrip('/')}/{database}?{query or 'charset=utf8mb4'}"
    else:
        crm_url = f"sqlite:///{tmp / 'crm.db'}"
    sinks = [Sink(mode == "pipelining") for mode in (("plain", "pipelining") if args.server == "both"
                                                       else (args.server,))]
    try:
        run(args, tmp, crm_url, sinks)
    finally:
        for sink in sinks:
            sink.close()
        if admin_engine is not None:
            with admin_engine.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{database}`"))
            admin_engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path, crm_url: str, sinks: list[Sink]) -> None:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from shopcrm import create_app
    from shopcrm.campaigns.service import create_campaign, enqueue
    from shopcrm.delivery.mime import MailBuilder
    from shopcrm import demo
    from shopcrm.extensions import db
    from shopcrm.models import Message
    from shopcrm.segmentation.run import run_segmentation
    from shopcrm.vocab import VALUE_TYPES

    print(f"machine: {os.cpu_count()} cores; load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f}; database: {args.db}")
    now = datetime.now().replace(microsecond=0)
    shop_url = f"sqlite:///{tmp / 'shop.db'}"
    engine = sa.create_engine(shop_url)
    demo.write(engine, demo.generate(seed=7, customers=args.customers, now=now))
    engine.dispose()
    app = create_app({
        "SHOPCRM_ENV": "development", "SECRET_KEY": "bench-" + "x" * 40, "INSTANCE_PATH": str(tmp / "instance"),
        "SQLALCHEMY_DATABASE_URI": crm_url, "SHOPCRM_SHOP_DATABASE_URI": shop_url,
        "SHOPCRM_PUBLIC_URL": "https://shop.bench.test/crm/", "SHOPCRM_SHOP_BASE_URL": "https://shop.bench.test/",
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sinks[0].port, "MAIL_DEFAULT_SENDER": "Bench Shop <shop@bench.test>",
        "SHOPCRM_FREQUENCY_CAP": 0,  # every round mails the same people again
    })
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        started = time.perf_counter()
        run_segmentation(as_of=now)
        print(f"segmentation of {args.customers} customers: {time.perf_counter() - started:.1f} s")
        campaign = create_campaign("Bench", {"value_types": list(VALUE_TYPES)}, coupon="BENCH")
        db.session.commit()
        started = time.perf_counter()
        report = enqueue(campaign)
        rendered = time.perf_counter() - started
        print(f"enqueue (render + insert): {report.queued} queued, {sum(report.suppressed.values())} suppressed in "
              f"{rendered:.1f} s = {report.audience / rendered:.0f} customers/s")
        if report.queued < args.messages:
            raise SystemExit(f"only {report.queued} messages; use more --customers")
        keep = db.session.scalars(sa.select(Message.id).where(Message.state == "queued").order_by(Message.id)
                                  .limit(args.messages)).all()
        db.session.execute(sa.update(Message).where(Message.state == "queued", Message.id > keep[-1])
                           .values(state="cancelled", reason="beyond the benchmark's size"))
        db.session.commit()
        ids = (keep[0], keep[-1])
        raw_file = tmp / "raw.bin"
        write_raw(raw_file, ids, MailBuilder())
        commit_ms = commit_latency(ids[0])
        print(f"commit latency (one-row UPDATE + COMMIT), median of 200: {commit_ms:.2f} ms")

        args.batch_size = args.batch_size or app.config["SHOPCRM_SEND_BATCH_SIZE"]
        for sink in sinks:
            app.config["MAIL_PORT"] = sink.port
            from shopcrm.extensions import mail

            mail.init_app(app)
            measure(args, sink, ids, raw_file)


def measure(args, sink: Sink, ids: tuple[int, int], raw_file: Path) -> None:
    """Rounds of N messages each way. Within a round the two take turns in chunks (shopcrm
    ``send_due(max_messages=chunk)``, then raw smtplib the same number of messages), so both
    see the same moments of a machine whose speed drifts; each side's rate is its N messages
    over the sum of its chunks' times."""
    from shopcrm.delivery.sender import send_due

    server = "aiosmtpd offering PIPELINING" if sink.pipelining else "plain aiosmtpd"
    ours, raw, rss = [], [], []
    for round_no in range(1, args.rounds + 1):
        reset(ids)
        raw_sender = RawSender(sink.port, raw_file)
        ours_time = raw_time = 0.0
        sent = 0
        sampler = RssSampler()
        sampler.start()
        before = sink.count()
        for first in range(0, args.messages, args.chunk):
            last = min(first + args.chunk, args.messages)
            started = time.perf_counter()
            result = send_due(max_messages=last - first, batch_size=args.batch_size)
            ours_time += time.perf_counter() - started
            sent += result.sent
            raw_time += raw_sender.send(first, last)
        sampler.stop.set()
        sampler.join()
        raw_sender.close()
        delivered = sink.count() - before
        assert sent == args.messages and delivered == 2 * args.messages, (sent, delivered)
        ours.append(args.messages / ours_time)
        raw.append(args.messages / raw_time)
        rss.append(sampler.summary())
        start, middle, end, peak = rss[-1]
        print(f"{server}, round {round_no}: shopcrm {ours[-1]:.0f} msg/s, raw smtplib {raw[-1]:.0f} msg/s, ratio "
              f"{ours[-1] / raw[-1]:.2f}; sender RSS start/middle/end/peak {start:.0f}/{middle:.0f}/{end:.0f}/"
              f"{peak:.0f} MB")
    ratios = [o / r for o, r in zip(ours, raw)]  # each round's two rates were measured side by side
    print(f"{server}, median: shopcrm {statistics.median(ours):.0f} msg/s, raw smtplib {statistics.median(raw):.0f} "
          f"msg/s, ratio {statistics.median(ratios):.2f} (median of the rounds' ratios, {min(ratios):.2f}–"
          f"{max(ratios):.2f}; {args.messages} messages, chunks of {args.chunk}, "
          f"batch {args.batch_size}, {args.db}); load now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def write_raw(path: Path, ids: tuple[int, int], builder) -> None:
    """The same messages shopcrm sends, as bytes, length-prefixed in a file (a chunk at a time)."""
    import sqlalchemy as sa

    from shopcrm.delivery.sender import ROW_COLUMNS
    from shopcrm.extensions import db
    from shopcrm.models import Message

    with open(path, "wb") as fh:
        last = ids[0] - 1
        while True:
            rows = db.session.execute(sa.select(*ROW_COLUMNS).where(Message.id > last, Message.id <= ids[1],
                                                                     Message.state == "queued")
                                      .order_by(Message.id).limit(1000)).mappings().all()
            if not rows:
                break
            last = rows[-1]["id"]
            for row in rows:
                to, body = row["email"].encode(), builder.build(dict(row)).data
                fh.write(struct.pack("!II", len(to), len(body)) + to + body)
    db.session.commit()


def commit_latency(message_id: int) -> float:
    import sqlalchemy as sa

    from shopcrm.extensions import db

    times = []
    with db.engine.connect() as conn:
        for i in range(200):
            started = time.perf_counter()
            conn.execute(sa.text("UPDATE crm_message SET attempts = :n WHERE id = :id"), {"n": i % 2, "id": message_id})
            conn.commit()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def reset(ids: tuple[int, int]) -> None:
    import sqlalchemy as sa

    from shopcrm.clock import utcnow
    from shopcrm.extensions import db
    from shopcrm.models import Message

    db.session.execute(sa.update(Message).where(Message.id.between(*ids), Message.send_key.is_not(None)).values(
        state="queued", claimed_by=None, lease_until=None, attempts=0, sent_at=None, message_id=None,
        next_attempt_at=utcnow(), reason=None))
    db.session.commit()


if __name__ == "__main__":
    main()
