"""The SMS sender: delivers due SMS rows of the outbox through a provider, nothing lost, nothing twice.

It keeps the e-mail sender's promise (``delivery.sender``) with the same claims, leases, states
and recovery; only the hand-over differs. Per row:

1. the checks (campaign not cancelled, customer still there with the same mobile number, SMS
   consent, not opted out, the shared frequency cap, not bought meanwhile), read once per batch;
2. quiet hours: inside the window the rest of the batch goes back to the pool, due when the
   window ends on the shop's clock (messages wait, they are not dropped);
3. the row becomes ``sending`` and that is **committed before the provider is called** (guarded:
   still queued, still ours, the number not opted out meanwhile);
4. the provider call. Its answer is committed before the next row becomes ``sending``: a
   message id makes the row ``sent``; a refusal ``failed`` with the provider's reason (a number
   that replied STOP is recorded as opted out); 429 and 5xx are retried in place with back-off
   (Retry-After when given), and after that the row goes back to the queue with the outbox's
   back-off, since nothing was taken; a request that went out without an answer leaves the
   row ``sending``: *in doubt*, and the run stops.

So a sender killed at any moment leaves at most one row ``sending`` — the one whose request
may have reached the provider — and ``flask shopcrm outbox in-doubt`` lists it; it is never
sent again silently. Twilio's Messages API has no idempotency key for creating a message, so
the journal is what prevents duplicates; each request carries the row's id in its status
callback address, so Twilio's delivery report names the row.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ...clock import utcnow
from ...errors import ShopCRMError
from ...extensions import db
from ...locks import job_lock, make_owner
from ...models import Campaign, Message, SmsConsent
from ...shop import connect_shop, current_mapping, shop_reads
from ...shop.activity import SendLookups
from ...vocab import REMINDER_KINDS
from ..sender.claims import claim, release, renewal
from ..sender.journal import MARK_DONE, MARK_IN_DOUBT, RETRY, Journal
from ..sender.recovery import IN_DOUBT, count_in_doubt, release_dead_claims, settle_accepted
from ..sender.session import (
    MAX_ATTEMPTS,
    RETRY_BACKOFF_SECONDS,
    UNREACHABLE_DELAY,
    Pacer,
    SendReport,
    send_in_batches,
)
from ..suppression import FrequencyCap
from . import consent
from .provider import SmsInDoubt, SmsPermanentError, SmsProvider, SmsSetupError, SmsTemporaryError
from .quiet_hours import may_send, next_allowed
from .settings import SmsSettings, load

#: Temporary refusals (429, 5xx) retried in place before the row goes back to the queue.
INLINE_RETRIES = 3
#: The first in-place wait without a Retry-After; it doubles each time.
INLINE_BACKOFF_SECONDS = 0.5
#: A longer wait (Retry-After) is not waited for in place: the row goes back to the queue.
MAX_INLINE_WAIT_SECONDS = 10.0
#: From this pause between texts on (the send rate), a text's "sent" is committed on its own
#: instead of with the next text's "sending".
SLOW_PACE_SECONDS = 0.05

_m = Message.__table__
_c = SmsConsent.__table__
MARK_SMS_SENDING = (
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.state == "queued", _m.c.claimed_by == sa.bindparam("token"),
           ~sa.exists().where(_c.c.phone_hash == sa.bindparam("ph"), _c.c.state == consent.OPTED_OUT))
    .values(state="sending", claimed_at=sa.bindparam("now"))
)
MARK_SMS_SENT = (
    _m.update()
    .where(_m.c.id == sa.bindparam("mid"), _m.c.claimed_by == sa.bindparam("token"), _m.c.state == "sending")
    .values(state="sent", sent_at=sa.bindparam("now"), provider_sid=sa.bindparam("sid"), reason=None,
            attempts=_m.c.attempts + 1, lease_until=None)
)


class StopSms(Exception):
    """The provider or the shop cannot go on; the rest waits for the next run."""


@dataclass
class SmsFacts:
    """What a batch's checks read once: campaigns, the shop's customers and their numbers, the
    numbers' consent states (by hash), latest orders, the frequency cap."""

    campaigns: dict
    customers: dict
    states: dict
    ordered: dict
    cap: FrequencyCap
    numbers: dict = field(default_factory=dict)  # customer id -> PhoneCheck of the shop's number now
    phone_hashes: dict = field(default_factory=dict)  # queued number -> consent.phone_hash


def status_callback_url(config, message_id: int) -> str:
    """Where Twilio reports a message's delivery: the public blueprint's status route."""
    return f"{config['SHOPCRM_PUBLIC_URL'].rstrip('/')}/sms/status?m={int(message_id)}"


def aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class SmsSender:
    """One run's SMS worker: claims batches of SMS rows and hands them to the provider one by one."""

    def __init__(self, lock, report: SendReport, provider: SmsProvider | None = None,
                 settings: SmsSettings | None = None):
        self.config = current_app.config
        self.settings = settings or load(self.config)
        self._provider = provider  # made on the first text: a run with nothing due never loads twilio
        self.lock, self.report = lock, report
        self.owner = make_owner()[:56]
        self.lease = timedelta(seconds=self.config["SHOPCRM_SEND_LEASE_SECONDS"])
        self.pacer = Pacer(self.settings.send_rate)
        self.lookups = SendLookups(current_mapping())
        self.exempt_reminders = self.config["SHOPCRM_CAP_EXEMPT_REMINDERS"]
        self.checks_max_age = self.config["SHOPCRM_SEND_CHECKS_MAX_AGE"]
        self.last_renew = time.monotonic()
        self.batch_no = 0
        self.token = ""
        self.pending: list[tuple] = []  # a "sent" not written yet: it goes with the next commit
        # The e-mail sender's journal: its own connection (SQLite: synchronous = NORMAL, durable
        # when processes crash), the hot statements compiled once and run on the driver's cursor.
        self.journal = Journal()

    @property
    def provider(self) -> SmsProvider:
        if self._provider is None:
            from .twilio_provider import TwilioProvider  # the twilio package only where SMS is sent

            self._provider = TwilioProvider(self.settings)
        return self._provider

    def close(self) -> None:
        try:
            if self.pending:
                self._commit(None, None)
        finally:
            self.journal.close()

    def claim(self, size: int) -> list[dict]:
        self.batch_no += 1
        self.token = f"{self.owner}:s{self.batch_no}"
        return claim(self.token, size, self.lease, channel="sms")

    # --- checks ---------------------------------------------------------------------------------

    def facts(self, rows: list[dict]) -> SmsFacts:
        campaign_ids = {r["campaign_id"] for r in rows}
        campaigns = {c.id: (c.status, c.kind) for c in db.session.execute(
            sa.select(Campaign.id, Campaign.status, Campaign.kind).where(Campaign.id.in_(campaign_ids)))}
        cap = FrequencyCap()
        cap.load({r["email_hash"] for r in rows})
        phone_hashes = {r["phone"]: consent.phone_hash(r["phone"]) for r in rows if r["phone"]}
        states = consent.states_for(phone_hashes.values())
        db.session.commit()
        facts = SmsFacts(campaigns, {}, states, {}, cap, phone_hashes=phone_hashes)
        watched = [r for r in rows if r["stop_if_ordered_since"] is not None]
        try:
            with shop_reads(), connect_shop() as shop:
                facts.customers = self.lookups.customers(shop, [r["customer_id"] for r in rows])
                if watched:
                    facts.ordered = self.lookups.latest_orders(shop, [r["customer_id"] for r in watched],
                                                               min(r["stop_if_ordered_since"] for r in watched))
        except ShopCRMError as exc:
            self.report.errors.append(f"cannot check SMS consent and orders in the shop before sending: {exc}")
            raise StopSms(str(exc)) from exc
        facts.numbers = consent.numbers_of(facts.customers, self.settings.default_region)
        return facts

    def verdict(self, row: dict, facts: SmsFacts) -> tuple[str, str] | None:
        status, kind = facts.campaigns.get(row["campaign_id"], ("cancelled", None))
        if status == "cancelled":
            return "cancelled", "campaign_cancelled"
        reason = consent.refusal(facts.customers.get(row["customer_id"]), facts.states,
                                 self.settings.default_region, queued_phone=row["phone"],
                                 check=facts.numbers.get(row["customer_id"]))
        if reason is not None:
            return consent.state_for(reason), reason
        since, ordered = row["stop_if_ordered_since"], facts.ordered.get(row["customer_id"])
        if since is not None and ordered is not None and ordered >= since:
            return "cancelled", "bought_meanwhile"
        if not (self.exempt_reminders and kind in REMINDER_KINDS) and facts.cap.blocks(row["email_hash"]):
            return "suppressed", "frequency_cap"
        return None

    # --- one batch ------------------------------------------------------------------------------

    def _commit(self, statement, params) -> int:
        """Run one state change, with the previous message's "sent" if it is still pending, in
        one commit on the sender's connection; returns the change's row count."""
        if db.session().in_transaction():  # the session's reads and writes end first (SQLite: one writer)
            db.session.commit()
        ops = self.pending + ([(statement, params)] if statement is not None else [])
        counts = self.journal.commit(ops)
        self.pending = []
        return counts[-1] if counts and statement is not None else 0

    def _done(self, row: dict, state: str, reason: str, attempts: int | None = None) -> None:
        self._commit(MARK_DONE, {"mid": row["id"], "token": self.token, "new_state": state, "why": reason[:255],
                                 "n": row["attempts"] if attempts is None else attempts})

    def _give_back(self, rows: list[dict], due: datetime) -> None:
        if rows:
            statement, params = release(rows, self.token, due)
            self._commit(statement, params)

    def send_batch(self, rows: list[dict]) -> int:
        """Send one claimed batch; returns how many rows it handled. The checks are read once
        for the batch; once they are older than ``SHOPCRM_SEND_CHECKS_MAX_AGE`` (at 1 text a
        second a batch takes minutes) the rest of the batch goes back to the pool at once, to be
        claimed and checked anew. :class:`StopSms` when the run must stop (the rest of the
        batch is given back first)."""
        try:
            facts = self.facts(rows)
        except StopSms:
            self._give_back(rows, utcnow() + UNREACHABLE_DELAY)
            raise
        checked = time.monotonic()
        for i, row in enumerate(rows):
            if i and time.monotonic() - checked > self.checks_max_age:
                self._give_back(rows[i:], utcnow())
                return i
            now = aware(utcnow())
            if not may_send(now, self.settings.time_zone, self.settings.quiet_hours):
                until = next_allowed(now, self.settings.time_zone, self.settings.quiet_hours)
                self._give_back(rows[i:], until.astimezone(UTC).replace(tzinfo=None))
                self.report.quiet_until = until
                raise StopSms("quiet hours")
            skip = self.verdict(row, facts)
            if skip is not None:
                self._done(row, *skip)
                self.report.skipped(*skip)
                continue
            try:
                self._send_one(row, facts)
            except StopSms:
                self._give_back(rows[i + 1:], utcnow() + UNREACHABLE_DELAY)
                raise
            self._renew(rows, i + 1)
        if self.pending:
            self._commit(None, None)
        return len(rows)

    def _renew(self, rows: list[dict], start: int) -> None:
        """Keep the lock and the claims of the batch's remaining rows (``rows[start:]``) alive
        during a slow batch (the send rate): a claim that ran out would make the row in flight
        look stopped, i.e. in doubt. Asked after every text, so the rest is sliced only when due."""
        if start >= len(rows) or time.monotonic() - self.last_renew < self.lease.total_seconds() / 4:
            return
        self.lock.renew()
        self.last_renew = time.monotonic()
        statement, params = renewal(rows[start:], self.token, utcnow() + self.lease)
        self._commit(statement, params)

    def _send_one(self, row: dict, facts: SmsFacts) -> None:
        if self.pending and self.pacer.interval >= SLOW_PACE_SECONDS:
            self._commit(None, None)  # a slow rate: the last "sent" is written now, not a second later
        self.pacer.wait()
        marked = self._commit(MARK_SMS_SENDING, {"mid": row["id"], "token": self.token, "now": utcnow(),
                                                 "ph": facts.phone_hashes.get(row["phone"])
                                                       or consent.phone_hash(row["phone"])})
        if marked != 1:  # opted out or taken away since the batch was checked
            if consent.state_of(row["phone"]) == consent.OPTED_OUT:
                self._done(row, "suppressed", "sms_opted_out")
                self.report.skipped("suppressed", "sms_opted_out")
            else:
                self._done(row, "cancelled", "changed_while_sending")
                self.report.skipped("cancelled", "changed_while_sending")
            db.session.commit()
            return
        try:
            sid = self._call(row)
        except SmsTemporaryError as exc:
            self._retry(row, exc.reason, exc.retry_after)
            self.report.errors.append(f"the SMS provider cannot take messages now: {exc.reason}")
            raise StopSms(exc.reason) from exc
        except SmsInDoubt as exc:
            self._commit(MARK_IN_DOUBT, {"mid": row["id"], "token": self.token,
                                         "why": f"{IN_DOUBT}: no answer after the SMS was handed over: "
                                                f"{exc.reason}"[:255]})
            self.report.errors.append(f"SMS #{row['id']} to {row['phone']} is {IN_DOUBT}: the provider may have "
                                      "taken it; see `flask shopcrm outbox in-doubt`")
            raise StopSms(exc.reason) from exc
        except SmsSetupError as exc:
            self._commit(RETRY, {"mid": row["id"], "token": self.token, "why": f"not sent: {exc.reason}"[:255],
                                 "n": row["attempts"], "due": utcnow() + UNREACHABLE_DELAY})
            self.report.errors.append(f"the SMS provider refuses the account or sender (SHOPCRM_TWILIO_*): "
                                      f"{exc.reason}")
            raise StopSms(exc.reason) from exc
        except SmsPermanentError as exc:
            self.report.failed += 1
            if exc.opted_out:
                consent.record(row["phone"], consent.OPTED_OUT, "provider", row["customer_id"])
            self._done(row, "failed", f"refused: {exc.reason}", row["attempts"] + 1)
            return
        # Written with the next row's "sending" (or at the batch's end): one commit a message. A
        # sender that dies before leaves this row "sending": in doubt, never sent again silently.
        answered = utcnow()
        self.pending.append((MARK_SMS_SENT, {"mid": row["id"], "token": self.token, "now": answered, "sid": sid}))
        self.report.sent += 1
        facts.cap.count(row["email_hash"], answered)

    def _call(self, row: dict) -> str:
        """The provider call, with temporary refusals retried in place (nothing was taken)."""
        url = status_callback_url(self.config, row["id"])
        for attempt in range(INLINE_RETRIES + 1):
            try:
                return self.provider.send(row["phone"], row["text"], url)
            except SmsTemporaryError as exc:
                wait = exc.retry_after if exc.retry_after is not None else INLINE_BACKOFF_SECONDS * 2 ** attempt
                if attempt == INLINE_RETRIES or wait > MAX_INLINE_WAIT_SECONDS:
                    raise
                self.report.retried += 1
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _retry(self, row: dict, reason: str, retry_after: float | None) -> None:
        attempts = row["attempts"] + 1
        if attempts >= MAX_ATTEMPTS:
            self.report.failed += 1
            self._done(row, "failed", f"gave up after {attempts} attempts: {reason}", attempts)
            return
        wait = max(RETRY_BACKOFF_SECONDS[attempts - 1], retry_after or 0)
        self._commit(RETRY, {"mid": row["id"], "token": self.token, "why": f"retrying: {reason}"[:255],
                             "n": attempts, "due": utcnow() + timedelta(seconds=wait)})


def send_sms_due(max_messages: int | None = None, batch_size: int | None = None,
                 provider: SmsProvider | None = None, report: SendReport | None = None) -> SendReport:
    """Send due SMS until none is due (or ``max_messages`` were handled), under the lock
    ``send-sms`` (an e-mail run may go on beside it). SMS off: nothing happens."""
    config = current_app.config
    report = report or SendReport()
    if not config.get("SHOPCRM_TWILIO_ACCOUNT_SID") and provider is None:
        return report
    batch_size = batch_size or config["SHOPCRM_SEND_BATCH_SIZE"]
    db.session.commit()
    with job_lock("send-sms", ttl=config["SHOPCRM_SEND_LEASE_SECONDS"]) as lock:
        release_dead_claims()
        settle_accepted()
        db.session.commit()
        sender = SmsSender(lock, report, provider)
        try:
            send_in_batches(sender, lock, report, batch_size, max_messages, StopSms)
        finally:
            sender.close()
    report.in_doubt = count_in_doubt()
    return report
