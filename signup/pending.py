"""The ``PendingSignup`` model: a create waiting for its code (verification mode).

One per anonymous session (a new create in the session replaces it). It
keeps what confirming needs and nothing more: keyed digests of the code,
the link's token and the address the code went to; the fields the person
will be created with (in clear: they become the person); and what the
person's record takes from the create request that started it (its API key,
session, verdict, the client's network prefix, the creation snapshot).

A pending sign-up for a taken address (``deliverable`` False) is kept the
same way, so that confirming it costs and answers the same as a wrong code;
it holds no email, phone or name and its code was never sent. Rows end when
confirmed (deleted in the transaction that creates the person) or expire
and are deleted by ``manage.py purge_expired``.
"""

import uuid

from django.db import models
from django.utils import timezone

from protection.keys import ApiKey
from signup.normalization import FULL_NAME_COLUMN_LENGTH


class PendingSignup(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "email"
        SMS = "sms", "SMS"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The anonymous session that asked (not a foreign key: sessions are purged).
    session_id = models.UUIDField(unique=True)
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # Keyed digest of the address the code went to (the email, or the phone
    # in phone mode): what a confirm by code names.
    identifier_digest = models.CharField(max_length=64, db_index=True)
    token_digest = models.CharField(max_length=64, unique=True)
    code_digest = models.CharField(max_length=64)
    # False: the email or phone is taken. No code was sent and none matches.
    deliverable = models.BooleanField()
    # The person to create ("" when not deliverable).
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    full_name = models.CharField(max_length=FULL_NAME_COLUMN_LENGTH, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    # From the create request that started it, for the person's record: the
    # client's network (IPv4 /24, IPv6 /64), never its address; the gate's
    # verdict; the creation snapshot (filled by the labels work, issue 21).
    client_ip_prefix = models.CharField(max_length=64, blank=True)
    verdict_action = models.CharField(max_length=16, blank=True)
    risk = models.PositiveSmallIntegerField(default=0)
    risk_reasons = models.JSONField(default=list, blank=True)
    snapshot = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "pending sign-up"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"pending sign-up {self.id} ({self.channel})"
