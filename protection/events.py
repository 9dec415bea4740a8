"""The audit log: one append-only ``SecurityEvent`` row per denial and per
security-relevant success, and ``event_record``, the one way to write it.

Events never hold secrets or clear-text identifiers: callers pass keyed
digests (``protection.crypto.keyed_digest``) in ``details``.

Every ``deny`` also bumps two shared-cache counters (client IP, API key), so
``recent_denials`` can answer "how suspicious is this client lately" without
querying the events table on every request (adaptive challenge difficulty).
"""

import datetime
import logging
from typing import Any

from django.core.cache import cache
from django.db import models
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils import timezone

from protection import crypto
from protection.clientip import client_ip as resolve_client_ip
from protection.clientip import rate_limit_ident
from protection.conf import gatehouse_settings

logger = logging.getLogger("gatehouse.events")

# Sent after every recorded event with ``event`` (a SecurityEvent). Reactions
# (automatic blocking, metrics) listen; recording never calls them directly.
event_recorded = Signal()


class SecurityEvent(models.Model):
    class Decision(models.TextChoices):
        ALLOW = "allow", "allow"
        DENY = "deny", "deny"
        ALERT = "alert", "alert"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=64, db_index=True)
    decision = models.CharField(max_length=8, choices=Decision.choices, db_index=True)
    reason = models.CharField(max_length=64, blank=True, db_index=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    api_key = models.ForeignKey(
        "protection.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    session_id = models.UUIDField(null=True, blank=True, db_index=True)
    path = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "created_at"], name="event_kind_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.decision} {self.reason}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Security events are append-only")
        super().save(*args, **kwargs)


def _without_nul(value: Any) -> Any:
    """``value`` with NUL characters removed from every string in it.

    Details quote what clients sent (an Origin, a parameter name), and
    PostgreSQL refuses NUL in text and JSON: the event must still be written.
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(str(k)): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


def event_record(
    *,
    kind: str,
    decision: str,
    reason: str = "",
    request: HttpRequest | None = None,
    client_ip: str | None = None,
    api_key: Any = None,
    session_id: Any = None,
    path: str | None = None,
    details: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Append one event. ``request`` fills client IP and path when not given."""
    if request is not None:
        client_ip = client_ip or resolve_client_ip(request)
        path = path if path is not None else request.path
    event = SecurityEvent.objects.create(
        kind=kind,
        decision=decision,
        reason=reason,
        client_ip=client_ip,
        api_key=api_key,
        session_id=session_id,
        path=_without_nul(path or "")[:200],
        details=_without_nul(details or {}),
    )
    logger.info(
        "security event kind=%s decision=%s reason=%s",
        kind,
        decision,
        reason,
        # Fields of the JSON log line (protection.logcontext fills what is not given).
        extra={
            "event_kind": kind,
            "event_decision": decision,
            "event_reason": reason,
            "api_key": getattr(api_key, "public_id", None),
            "session_id": str(session_id) if session_id else None,
        },
    )
    if decision == SecurityEvent.Decision.DENY:
        _denials_count(client_ip=client_ip, api_key=api_key, now=event.created_at)
        from protection.blocks.autoblock import autoblock_observe  # blocks imports events

        autoblock_observe(event=event)
    event_recorded.send(sender=SecurityEvent, event=event)
    return event


# --- Recent denials: cheap shared-cache counters --------------------------
#
# Two fixed windows per subject (the current one and the previous one) give a
# sliding approximation of "denials in the last DENIALS_WINDOW seconds" for
# one cache read of two keys. Counter keys are keyed digests: opaque, bounded.


def _denial_subjects(*, client_ip: str | None, api_key: Any) -> list[str]:
    subjects = []
    if client_ip:
        # IPv6 clients count per /64, like the rate limits: one subscriber.
        subjects.append("ip:" + rate_limit_ident(client_ip))
    public_id = getattr(api_key, "public_id", None)
    if public_id is None and isinstance(api_key, str):
        public_id = api_key
    if public_id:
        subjects.append("key:" + public_id)
    return subjects


def _denial_cache_key(subject: str, bucket: int) -> str:
    return f"gh:denials:{crypto.keyed_digest(subject, purpose='denials')[:32]}:{bucket}"


def _denials_count(
    *, client_ip: str | None, api_key: Any, now: datetime.datetime | None = None
) -> None:
    window = int(gatehouse_settings.DENIALS_WINDOW)
    bucket = int((now or timezone.now()).timestamp()) // window
    for subject in _denial_subjects(client_ip=client_ip, api_key=api_key):
        key = _denial_cache_key(subject, bucket)
        try:
            # add() then incr(): atomic on Redis, never resets a live counter.
            cache.add(key, 0, timeout=2 * window)
            cache.incr(key)
        except Exception:  # a cache outage must not turn a denial into a 500
            logger.warning("could not count a denial (cache unavailable)", exc_info=True)


def recent_denials(
    *,
    client_ip: str | None = None,
    api_key: Any = None,
    window: int | None = None,
    now: datetime.datetime | None = None,
) -> int:
    """Return how many requests of ``client_ip`` and/or ``api_key`` were denied lately.

    Counts over roughly the last ``DENIALS_WINDOW`` seconds (the current and the
    previous fixed window, the previous one weighted by how much of it still
    overlaps). With both subjects given, their counts are added. Counters are
    kept per ``DENIALS_WINDOW``, so ``window`` may only restate that value.
    Returns 0 when the cache is unavailable.
    """
    size = int(gatehouse_settings.DENIALS_WINDOW)
    if window is not None and int(window) != size:
        raise ValueError(f"recent_denials counts over DENIALS_WINDOW ({size}s) only")
    timestamp = (now or timezone.now()).timestamp()
    bucket = int(timestamp) // size
    previous_weight = 1 - (timestamp - bucket * size) / size
    total = 0.0
    for subject in _denial_subjects(client_ip=client_ip, api_key=api_key):
        current_key = _denial_cache_key(subject, bucket)
        previous_key = _denial_cache_key(subject, bucket - 1)
        try:
            counts = cache.get_many([current_key, previous_key])
        except Exception:
            logger.warning("could not read denial counters (cache unavailable)", exc_info=True)
            return 0
        total += int(counts.get(current_key, 0))
        total += previous_weight * int(counts.get(previous_key, 0))
    return round(total)


def events_purge_old(*, now: datetime.datetime | None = None) -> int:
    """Delete events older than ``EVENTS_RETENTION`` seconds; return how many."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=int(gatehouse_settings.EVENTS_RETENTION))
    deleted, _ = SecurityEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
