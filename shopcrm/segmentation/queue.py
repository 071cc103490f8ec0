"""Runs an admin asks for ("Run now") wait here until the scheduled job carries them out.

Under mod_wsgi nothing long runs in a request thread: the panel only queues a run, and
``flask shopcrm run-queued`` (cron, every few minutes) runs it.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import Run
from .search_index import IndexState


def waiting_run() -> Run | None:
    """A run that is queued or running: a new request would add nothing to it."""
    return db.session.scalars(sa.select(Run).where(Run.status.in_(("queued", "running"))).order_by(Run.id)
                              .limit(1)).first()


def queue_run(requested_by: str) -> tuple[Run, bool]:
    """Queue a run unless one is already waiting or running; returns it and whether it is new. Commits."""
    waiting = waiting_run()
    if waiting is not None:
        return waiting, False
    run = Run(kind="segmentation", status="queued", requested_by=requested_by)
    db.session.add(run)
    db.session.commit()
    return run, True


def run_next_queued() -> tuple[Run, IndexState] | None:
    """Carry out the oldest queued run (and refresh the search index); None when nothing waits."""
    queued = db.session.scalars(sa.select(Run).where(Run.status == "queued").order_by(Run.id).limit(1)).first()
    if queued is None:
        return None
    # imported here: the run brings all of mining (scikit-learn), and the panel's "Run now" needs
    # only the queue
    from .run import run_and_index

    return run_and_index(requested_by=queued.requested_by or "admin", run_id=queued.id)
