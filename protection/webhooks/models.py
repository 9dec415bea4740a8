"""The ``WebhookEndpoint`` model: where events are sent, signed with its own secret."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # The Standard Webhooks signing secret ("whsec_" + base64 of 32 random
    # bytes). HMAC needs it in clear, so it is stored, not hashed; it is
    # shown once, when the endpoint is created, and never displayed again.
    secret = models.CharField(max_length=100, editable=False)
    event_types = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Failure state: the current run of failed deliveries (reset by a success).
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "webhook endpoint"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"webhook {self.pk}: {self.url[:60]}"

    @property
    def target(self) -> str:
        """How the outbox names this endpoint (``OutboxMessage.target``)."""
        return f"webhook:{self.pk}"
