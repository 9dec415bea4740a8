"""The one sender: take what is due, send it through its channel, record what happened.

``outbox_send_due`` sends every message due now (``manage.py outbox_send``,
from cron); ``outbox_run`` repeats that until told to stop (``--loop``,
under a process manager). Each message is taken in its own transaction with
``SELECT … FOR UPDATE SKIP LOCKED``: on PostgreSQL any number of senders
share the work and no message is sent by two of them; the row stays locked
while it is sent, so a sender that dies mid-send leaves it to be retried
(delivery is at least once; receivers deduplicate on the message id).
SQLite has no row locks: run one sender there (``make run`` does).

A message past its ``give_up_at`` is not attempted again: it is dead. Its
payload is scrubbed when it is sent or dead (``services`` says what stays).
"""

import datetime
import logging
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import DatabaseError, close_old_connections, transaction
from django.utils import timezone

from protection.conf import gatehouse_settings
from protection.core.outbox.channels import (
    CHANNELS,
    Delivery,
    DeliveryError,
    OutboxChannel,
    Outcome,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from protection.core.outbox.models import OutboxMessage
from protection.core.outbox.services import outbox_payload_digest, outbox_retry_delay

logger = logging.getLogger("gatehouse.outbox")


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.retried + self.dead

    def add(self, outcome: Outcome) -> None:
        if outcome == "sent":
            self.sent += 1
        elif outcome == "retry":
            self.retried += 1
        else:
            self.dead += 1


def _finish(message: OutboxMessage, status: str, now: datetime.datetime) -> None:
    """Sent or dead: keep a digest of the payload, not the payload."""
    message.status = status
    message.finished_at = now
    message.payload_digest = outbox_payload_digest(message.payload)
    message.payload = {}


def _send_in_savepoint(channel: OutboxChannel, message: OutboxMessage, delivery: Delivery) -> None:
    """Send inside a savepoint. What the channel wrote stays when it succeeded or
    judged the failure itself (a webhook endpoint it disabled); an unexpected
    exception rolls it back, so this transaction can still record the attempt."""
    savepoint = transaction.savepoint()
    try:
        channel.send(message.payload, delivery)
    except DeliveryError:
        transaction.savepoint_commit(savepoint)
        raise
    except BaseException:
        transaction.savepoint_rollback(savepoint)
        raise
    transaction.savepoint_commit(savepoint)


def _attempt(
    message: OutboxMessage, *, now: datetime.datetime, rng: random.Random | None
) -> Outcome:
    channel = CHANNELS.get(message.channel)
    outcome: Outcome
    error = ""
    if now >= message.give_up_at:
        outcome, error = "dead", "expired before it could be sent"
    else:
        message.attempts += 1
        message.last_attempt_at = now
        delivery = Delivery(message.public_id, message.attempts, now, message.topic, message.target)
        retry_after = None
        try:
            if channel is None:
                raise RetryableDeliveryError(f"no {message.channel!r} channel in this process")
            _send_in_savepoint(channel, message, delivery)
            outcome = "sent"
        except PermanentDeliveryError as exc:
            outcome, error = "dead", str(exc) or "refused"
        except RetryableDeliveryError as exc:
            outcome, error, retry_after = "retry", str(exc) or "failed", exc.retry_after
        except Exception as exc:  # a bug in a channel must not lose the message
            logger.exception("outbox channel %s raised on %s", message.channel, message.public_id)
            outcome, error = "retry", f"unexpected {type(exc).__name__} (see the sender's log)"
        if outcome == "retry":
            delay = outbox_retry_delay(message.attempts, retry_after=retry_after, rng=rng)
            message.next_attempt_at = now + datetime.timedelta(seconds=delay)
            if message.next_attempt_at >= message.give_up_at:
                outcome = "dead"  # the next try would fall past the horizon
    message.last_error = error[:300]
    if outcome == "sent":
        message.last_error = ""
        _finish(message, OutboxMessage.Status.SENT, now)
    elif outcome == "dead":
        _finish(message, OutboxMessage.Status.DEAD, now)
    message.save()
    logger.info(
        "outbox %s %s %s attempt=%s%s",
        message.channel,
        message.public_id,
        outcome,
        message.attempts,
        f" error={message.last_error}" if message.last_error else "",
    )
    if channel is not None and channel.observe is not None:
        try:
            with transaction.atomic():
                channel.observe(message, outcome, message.last_error)
        except Exception:
            logger.exception("outbox observer of %s failed on %s", channel.name, message.public_id)
    return outcome


def outbox_send_next(
    *,
    now: datetime.datetime | None = None,
    channels: Sequence[str] | None = None,
    rng: random.Random | None = None,
) -> Outcome | None:
    """Send the next due message (locked, in its own transaction); its outcome, or None."""
    now = now or timezone.now()
    with transaction.atomic():
        due = OutboxMessage.objects.filter(
            status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now
        )
        if channels:
            due = due.filter(channel__in=list(channels))
        message = due.select_for_update(skip_locked=True).order_by("next_attempt_at", "pk").first()
        if message is None:
            return None
        return _attempt(message, now=now, rng=rng)


def outbox_send_due(
    *,
    now: datetime.datetime | None = None,
    limit: int | None = None,
    channels: Sequence[str] | None = None,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
) -> SendReport:
    """Send what is due (at most ``limit`` messages; default ``OUTBOX_BATCH_SIZE``).

    ``now`` fixes the clock for the whole pass (tests); by default each
    message is judged at the time it is taken.
    """
    report = SendReport()
    limit = int(limit if limit is not None else gatehouse_settings.OUTBOX_BATCH_SIZE)
    while report.attempted < limit and not (stop is not None and stop.is_set()):
        outcome = outbox_send_next(now=now, channels=channels, rng=rng)
        if outcome is None:
            break
        report.add(outcome)
    return report


def outbox_run(
    *,
    stop: threading.Event,
    interval: float | None = None,
    channels: Sequence[str] | None = None,
) -> SendReport:
    """Send what is due, wait, again, until ``stop`` is set; return the totals.

    A full batch is followed at once by the next one; an idle pass waits
    ``interval`` seconds (``OUTBOX_POLL_INTERVAL``). A database outage is
    logged and waited out, not fatal. ``stop`` ends the wait at once; the
    message being sent is finished first.
    """
    total = SendReport()
    while not stop.is_set():
        wait = float(interval if interval is not None else gatehouse_settings.OUTBOX_POLL_INTERVAL)
        close_old_connections()  # what a request's end does for a web worker
        try:
            batch = int(gatehouse_settings.OUTBOX_BATCH_SIZE)
            report = outbox_send_due(limit=batch, channels=channels, stop=stop)
        except DatabaseError:
            logger.exception("outbox sender: database unavailable, retrying in %ss", wait)
            report = SendReport()
        else:
            total.sent += report.sent
            total.retried += report.retried
            total.dead += report.dead
            if report.attempted >= batch:
                continue
        stop.wait(wait)
    close_old_connections()
    return total
