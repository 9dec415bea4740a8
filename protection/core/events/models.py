"""The audit log's table: one append-only ``SecurityEvent`` row per denial and
per security-relevant success (``count`` > 1 for denials added up under a flood)."""

from typing import Any

from django.db import models
from django.utils import timezone


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
    # How many occurrences this row stands for: 1, or more for denials that
    # were added up under a flood (``created_at`` is the first one's time).
    count = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "created_at"], name="event_kind_time")]

    def __str__(self) -> str:
        times = f" x{self.count}" if self.count > 1 else ""
        return (
            f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.decision} {self.reason}{times}"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Security events are append-only")
        super().save(*args, **kwargs)
