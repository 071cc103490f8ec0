"""The sender: delivers due outbox rows, one SMTP session per batch, nothing lost, nothing twice.

How a row travels
-----------------
1. **Claim.** A sender takes a batch of due ``queued`` rows by stamping them with its claim
   token and a lease (``lease_until``). On MariaDB/MySQL the candidates are picked with
   ``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent senders get disjoint batches instead of
   waiting for each other; the stamp itself is an UPDATE guarded by "still queued, lease free"
   (on SQLite, which serialises writers, that guarded UPDATE alone is the claim). Claimed
   rows stay ``queued``: if the sender dies, they return to the pool when the lease runs out.
2. **Sending.** Before a message's content goes to the mail server, its row becomes
   ``sending`` and that is committed. That commit comes only after the server's answer to the
   previous message was read, and it carries that answer unless it was a plain 250: a
   failure or a retry is written in the same commit. So at any moment a sender has at most
   one message whose fate is unknown. The UPDATE is guarded (still queued, still claimed by
   us, address not on the suppression list): an unsubscribe or a cancelled campaign takes
   effect before the next message, not the next batch.
3. **Outcome.** ``failed`` and the address suppressed for a permanent refusal (5xx), back to
   ``queued`` with a growing delay for a temporary one (4xx, connection lost), at once. The
   250s of a batch become ``sent`` in one UPDATE at the batch's end: until then each is
   implied by the later ``sending`` rows of the same claim.

A row whose end went out without an answer — the connection dropped, the answer took longer
than ``SHOPCRM_SMTP_DATA_TIMEOUT`` — is *in doubt*: the server may have taken it, so it stays
``sending`` and is never retried silently (it keeps its Message-ID for an explicit resend). So
is a row left ``sending`` by a sender that died, once its lease ran out or at once when that
sender was a process of this host that is gone: ``recovery`` settles it or reports it.

Speed: the time between the server's answer to one message and the next message's content
is what limits a send run, so as little as possible happens there. The commit that makes a
row ``sending`` overlaps the sending of the message's body; only the body's final ``.`` —
without which the server delivers nothing — waits for it (``Sender._hand_over``). On
MariaDB/MySQL the COMMIT runs in a helper thread and the ``sending`` UPDATE itself already ran
while the server digested the previous message (``Journal.stage``); on SQLite the commit
runs right after the body went out. The next message is built while the server digests the
current one. Batches stream from the database; memory does not grow with the outbox.

Without ``MAIL_SERVER`` the transport writes each message as an ``.eml`` file into the outbox
folder instead (the demo, and development).

The modules: ``claims`` (taking and giving back rows), ``checks`` (is each row still wanted),
``journal`` (state changes and commits), ``session`` (one batch over SMTP), ``recovery``
(after a crash).
"""
from __future__ import annotations

from flask import current_app

from ...extensions import db
from ...locks import job_lock
from .claims import ROW_COLUMNS
from .recovery import (
    count_in_doubt,
    doubtful,
    in_doubt,
    release_dead_claims,
    resend_in_doubt,
    resolve_in_doubt,
    settle_accepted,
)
from .session import MAX_ATTEMPTS, Sender, SendReport, StopRun, send_in_batches

__all__ = ["ROW_COLUMNS", "SendReport", "Sender", "count_in_doubt", "doubtful", "in_doubt", "resolve_in_doubt",
           "send_due", "settle_accepted"]


def send_due(max_messages: int | None = None, batch_size: int | None = None, worker: str | None = None) -> SendReport:
    """Send due messages until none is due (or ``max_messages`` were handled).

    Holds the lock ``send`` (``send:<worker>`` for an additional, deliberate parallel sender)
    so two cron runs never overlap; :class:`RunLocked` if another run holds it (a lock or
    claims of a killed sender of this host are taken over at once).
    """
    config = current_app.config
    report = SendReport()
    batch_size = batch_size or config["SHOPCRM_SEND_BATCH_SIZE"]
    name = f"send:{worker}" if worker else "send"
    db.session.commit()  # start from a clean session: the claims set their own isolation level
    with job_lock(name, ttl=config["SHOPCRM_SEND_LEASE_SECONDS"]) as lock:
        release_dead_claims()
        settle_accepted()
        if config["SHOPCRM_RESEND_IN_DOUBT"]:
            report.resent_in_doubt = resend_in_doubt(MAX_ATTEMPTS)
        db.session.commit()
        sender = Sender(lock, report)
        try:
            send_in_batches(sender, lock, report, batch_size, max_messages, StopRun)
            settle_accepted()  # a stopped sender's claims may have expired meanwhile
            db.session.commit()
        finally:
            sender.close()
    report.in_doubt = count_in_doubt()
    return report
