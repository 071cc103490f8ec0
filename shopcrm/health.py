"""Is shopcrm set up right? The mapping doctor's last report, kept for every process in
``crm_state`` (the doctor itself reads the shop: ``shop.doctor``).

The doctor reads the shop with bounded queries, but on a large shop they add up to seconds.
So a page view never runs it: the last report is stored with its time and shown as it is,
for every worker process alike. It is made when an admin asks ("Check again"), on the very
first visit, and by ``flask shopcrm doctor``; one check at a time (a lock), so visitors
arriving together do not all start one.
"""
from __future__ import annotations

import json
from datetime import datetime

from .extensions import db
from .locks import try_acquire
from .models import State
from .shop.doctor import DoctorReport, report_for_app

STATE_NAME = "doctor"
CHECK_TTL = 300  # seconds the check's lock lives if its process dies while checking


def store_report(report: DoctorReport) -> dict:
    """The report as plain JSON (samples may hold dates and decimals), stored for every process. Commits."""
    data = json.loads(json.dumps(report.to_dict(), default=str))
    State.write(STATE_NAME, data)
    db.session.commit()
    return data


def check_shop() -> dict | None:
    """Run the doctor now and store its report; ``None`` when another check is running."""
    lease = try_acquire("doctor", CHECK_TTL)
    if lease is None:
        return None
    try:
        return store_report(report_for_app())
    finally:
        lease.release()


def last_report() -> tuple[dict | None, datetime | None]:
    """The last report and when it was made (UTC), checking the shop on the very first visit."""
    row = State.read(STATE_NAME)
    if row is None:
        data = check_shop()
        row = State.read(STATE_NAME) if data is not None else None
    if row is None:
        return None, None
    return row.data, row.updated_at
