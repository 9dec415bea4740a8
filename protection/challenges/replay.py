"""Spent evidence: each proof-of-work solution, reCAPTCHA token and Private
Access Token challenge is accepted once.

A row per redeemed challenge nonce / CAPTCHA token / PAT challenge digest
(as a keyed digest), with a unique constraint, so "first to insert wins"
holds across processes and hosts and survives a cache flush or eviction.
Rows are only written for evidence that already passed its cheap checks,
and are deleted by ``purge_expired`` once the evidence would have expired
anyway.
"""

import datetime

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from protection.base import crypto
from protection.base.exceptions import ProtectionError


class SpentChallenge(models.Model):
    class Kind(models.TextChoices):
        POW = "pow", "proof of work"
        RECAPTCHA = "recaptcha", "reCAPTCHA token"
        PAT = "pat", "Private Access Token challenge"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    digest = models.CharField(max_length=64, unique=True)
    spent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "spent challenge"

    def __str__(self) -> str:
        return f"{self.kind} {self.digest[:12]}…"


def _digest(kind: str, value: str) -> str:
    return crypto.keyed_digest(f"{kind}\x00{value}", purpose="spent-challenge")


def challenge_spent(*, kind: str, value: str) -> bool:
    """Whether ``value`` of ``kind`` was recorded as used (and not yet purged)."""
    return SpentChallenge.objects.filter(digest=_digest(kind, value)).exists()


def challenge_spend(
    *, kind: str, value: str, expires_at: datetime.datetime, now: datetime.datetime | None = None
) -> None:
    """Record ``value`` (a nonce or token) as used; raise ``challenge_replayed`` if it was."""
    digest = _digest(kind, value)
    try:
        # Own savepoint: a duplicate must not poison an enclosing transaction.
        with transaction.atomic():
            SpentChallenge.objects.create(
                kind=kind, digest=digest, spent_at=now or timezone.now(), expires_at=expires_at
            )
    except IntegrityError:
        raise ProtectionError("challenge_replayed") from None


def challenges_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete spent-evidence records past their expiry; return how many."""
    deleted, _ = SpentChallenge.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
