"""Writing to the outbox, the retry schedule, and housekeeping.

``outbox_enqueue`` adds one message in the caller's transaction: if the
change that caused it rolls back, so does the message, and nothing is ever
sent for a change that did not happen. Sending is ``protection.core.outbox.sender``.

What is kept: a pending message holds what its channel needs to send (the
recipient and the template context, or a webhook's body) and nothing more.
When it is sent, or given up, its payload is replaced by ``{}`` and only a
keyed digest of it stays (``payload_digest``: proves what was sent without
keeping it); ``purge_expired`` deletes such rows after ``OUTBOX_KEEP_FOR``.
"""

import datetime
import json
import random
from collections.abc import Mapping
from typing import Any

from django.db.models import Q
from django.utils import timezone

from protection.base.crypto import keyed_digest
from protection.conf import gatehouse_settings
from protection.core.outbox.channels import CHANNELS
from protection.core.outbox.models import OutboxMessage


def outbox_payload_digest(payload: Mapping[str, Any]) -> str:
    """A keyed digest of ``payload`` (canonical JSON): what stays after the scrub."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return keyed_digest(canonical, purpose="outbox-payload")


def outbox_give_up_after(channel: str) -> datetime.timedelta:
    """How long after its creation a message of ``channel`` is retried."""
    horizons = gatehouse_settings.OUTBOX_GIVE_UP_AFTER
    seconds = horizons.get(channel, horizons.get("default", 24 * 3600))
    return datetime.timedelta(seconds=float(seconds))


def outbox_enqueue(
    *,
    channel: str,
    payload: Mapping[str, Any],
    topic: str = "",
    target: str = "",
    not_after: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
    skip: str = "",
) -> OutboxMessage:
    """Write one message to send on ``channel``, in the caller's transaction; return it.

    ``payload`` is what the channel's sender reads (plain JSON: no personal
    data beyond what sending needs). ``topic`` and ``target`` describe it in
    the admin and must not be personal data. ``not_after`` ends its retries
    earlier than the channel's horizon (a code that expires). With ``skip``
    (why, not personal data) the row is written finished, ``skipped``: never
    sent, its payload only as a digest; for a caller whose request must do
    the same work whether or not it sends. Raises ValueError for a channel
    nobody registered or a payload that is not JSON.
    """
    if channel not in CHANNELS:
        raise ValueError(f"No outbox channel {channel!r} is registered")
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"An outbox payload must be plain JSON: {exc}") from None
    now = now or timezone.now()
    give_up_at = now + outbox_give_up_after(channel)
    if not_after is not None:
        give_up_at = min(give_up_at, not_after)
    if skip:
        return OutboxMessage.objects.create(
            channel=channel,
            payload={},
            payload_digest=outbox_payload_digest(payload),
            status=OutboxMessage.Status.SKIPPED,
            topic=topic[:100],
            target=target[:64],
            created_at=now,
            next_attempt_at=now,
            give_up_at=now,
            finished_at=now,
            last_error=skip[:300],
        )
    return OutboxMessage.objects.create(
        channel=channel,
        payload=dict(payload),
        topic=topic[:100],
        target=target[:64],
        created_at=now,
        next_attempt_at=now,
        give_up_at=give_up_at,
    )


def outbox_retry_delay(
    attempts: int, *, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt.

    The ceiling doubles from ``OUTBOX_RETRY_BASE`` per attempt up to
    ``OUTBOX_RETRY_MAX_DELAY``; the delay is drawn between half the ceiling
    and all of it ("equal jitter"): senders that failed together do not
    retry together, and no delay is shorter than the whole previous ceiling,
    so they grow. A receiver's ``retry_after`` lengthens it, within the cap.
    """
    base = float(gatehouse_settings.OUTBOX_RETRY_BASE)
    cap = float(gatehouse_settings.OUTBOX_RETRY_MAX_DELAY)
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(cap, float(retry_after)))
    return delay


def outbox_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete sent, dead and skipped messages finished over ``OUTBOX_KEEP_FOR`` ago;
    return how many."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=float(gatehouse_settings.OUTBOX_KEEP_FOR))
    finished = ~Q(status=OutboxMessage.Status.PENDING)
    deleted, _ = OutboxMessage.objects.filter(finished, finished_at__lt=cutoff).delete()
    return deleted
