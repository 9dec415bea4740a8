"""The ``AnonymousSession`` model: one row per session, read on every request."""

import datetime
import uuid

from django.db import models
from django.utils import timezone

from protection.keys import ApiKey


class AnonymousSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="sessions")
    client_ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    user_agent = models.CharField(max_length=256, blank=True)
    device_id = models.CharField(max_length=128, blank=True, db_index=True)
    # What the session start showed, kept for the creation snapshot of a person
    # this session creates (signup): ``device_verified`` (the device id came
    # from attestation, not from the client's word), ``attested`` (the
    # verifiers that passed), ``pow_ms`` (the solve time the client reported).
    start_signals = models.JSONField(default=dict, blank=True)
    # True when an attestation vouched for device_id; False when the client
    # only claimed it (protection.sessions.devices).
    device_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=64, blank=True)
    # Refresh-token family: only the refresh token with this jti is alive.
    refresh_jti = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(self.id)

    def is_active(self, now: datetime.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now

    def status(self, now: datetime.datetime | None = None) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.is_active(now) else "expired"
