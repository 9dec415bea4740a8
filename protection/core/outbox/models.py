"""The ``OutboxMessage`` table: what gatehouse has to send, written with the change."""

import secrets

from django.db import models
from django.utils import timezone


def message_public_id() -> str:
    """``msg_`` and 32 random hex digits (128 bits); webhooks send it as ``webhook-id``."""
    return "msg_" + secrets.token_hex(16)


class OutboxMessage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENT = "sent", "sent"
        DEAD = "dead", "dead (gave up)"
        # Written so that a request does the same work whether or not it sends
        # (sign-up's notice, once a day): never sent, finished at once.
        SKIPPED = "skipped", "skipped (not to send)"

    # Stable across retries: receivers deduplicate on it (webhook-id).
    public_id = models.CharField(max_length=40, unique=True, default=message_public_id)
    channel = models.CharField(max_length=32, db_index=True)
    # What it is, without personal data: a template name, an event type.
    topic = models.CharField(max_length=100, blank=True, db_index=True)
    # Where it goes, without personal data ("webhook:12"); empty for mail/SMS.
    target = models.CharField(max_length=64, blank=True, db_index=True)
    # What the channel needs to send (recipient, template context). Replaced
    # by {} once the message is sent or dead: payload_digest stays.
    payload = models.JSONField(default=dict, blank=True)
    payload_digest = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    give_up_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Why the last attempt failed (or why a skipped message is not sent);
    # never personal data (channels say what failed, not to whom).
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "outbox message"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.topic or ''} {self.public_id}".replace("  ", " ")
