"""The audit log: one append-only ``SecurityEvent`` row per denial and per
security-relevant success, and ``event_record``, the one way to write it.

Events never hold secrets or clear-text identifiers: callers pass keyed
digests (``protection.crypto.keyed_digest``) in ``details``.
"""

import datetime
import logging
from typing import Any

from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from protection.clientip import client_ip as resolve_client_ip
from protection.conf import gatehouse_settings

logger = logging.getLogger("gatehouse.events")


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
        path=(path or "")[:200],
        details=details or {},
    )
    logger.info("security event kind=%s decision=%s reason=%s", kind, decision, reason)
    if decision == SecurityEvent.Decision.DENY:
        from protection.blocks.autoblock import autoblock_observe  # blocks imports events

        autoblock_observe(event=event)
    return event


def events_purge_old(*, now: datetime.datetime | None = None) -> int:
    """Delete events older than ``EVENTS_RETENTION`` seconds; return how many."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=int(gatehouse_settings.EVENTS_RETENTION))
    deleted, _ = SecurityEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
