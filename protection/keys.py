"""API keys: which client application is calling (the *what*).

Owns the ``ApiKey`` model and its services: create (returns the raw key
once), verify (offline parse, lookup by public id, constant-time hash check,
revoked / expired / origin checks) and scope checks.
"""

import datetime
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from protection import crypto
from protection.exceptions import ProtectionError
from protection.ratelimit.rates import validate_rate_limit_overrides

SCOPES = ("session", "lookup", "create")
VERIFICATIONS = ("pow", "recaptcha")


class ApiKey(models.Model):
    class Kind(models.TextChoices):
        PUBLISHABLE = "publishable", "publishable (browsers and mobile apps)"
        SECRET = "secret", "secret (servers)"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PUBLISHABLE)
    public_id = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    allowed_origins = models.JSONField(default=list, blank=True)
    required_verifications = models.JSONField(default=list, blank=True)
    rate_limit_overrides = models.JSONField(
        default=dict, blank=True, validators=[validate_rate_limit_overrides]
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="successors"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    def is_active(self, now: datetime.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def api_key_create(
    *,
    name: str,
    kind: str = ApiKey.Kind.PUBLISHABLE,
    scopes: Iterable[str] = SCOPES,
    allowed_origins: Iterable[str] = (),
    required_verifications: Iterable[str] = ("pow",),
    expires_at: datetime.datetime | None = None,
    created_by: Any = None,
    replaces: ApiKey | None = None,
    **extra_fields: Any,
) -> tuple[ApiKey, str]:
    """Create a key and return ``(api_key, raw_key)``; the raw key is never stored."""
    public_id = crypto.generate_public_id()
    raw_key, secret = crypto.generate_raw_key(kind=kind, public_id=public_id)
    api_key = ApiKey.objects.create(
        name=name,
        kind=kind,
        public_id=public_id,
        secret_hash=crypto.hash_secret(secret),
        scopes=list(scopes),
        allowed_origins=list(allowed_origins),
        required_verifications=list(required_verifications),
        expires_at=expires_at,
        created_by=created_by,
        replaces=replaces,
        **extra_fields,
    )
    return api_key, raw_key


def api_key_verify(
    *, raw_key: str | None, origin: str | None = None, now: datetime.datetime | None = None
) -> ApiKey:
    """Return the active key for ``raw_key`` or raise ProtectionError.

    A malformed key is refused without a query; an unknown public id and a
    wrong secret give the same error after the same hash computation.
    """
    if not raw_key:
        raise ProtectionError("api_key_missing")
    parsed = crypto.parse_raw_key(raw_key)
    if parsed is None:
        raise ProtectionError("api_key_invalid")
    api_key = ApiKey.objects.filter(public_id=parsed.public_id).first()
    stored_hash = api_key.secret_hash if api_key is not None else "0" * 64
    if not crypto.secret_matches(parsed.secret, stored_hash) or api_key is None:
        raise ProtectionError("api_key_invalid")
    if api_key.kind != parsed.kind:
        raise ProtectionError("api_key_invalid")
    now = now or timezone.now()
    if api_key.revoked_at is not None:
        raise ProtectionError("api_key_revoked")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise ProtectionError("api_key_expired")
    if origin is not None and not origin_allowed(api_key, origin):
        raise ProtectionError("origin_not_allowed")
    return api_key


def origin_allowed(api_key: ApiKey, origin: str) -> bool:
    """Exact origin match; ``null`` and look-alike hosts never match."""
    if not api_key.allowed_origins:
        return api_key.kind == ApiKey.Kind.SECRET
    return origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in api_key.allowed_origins}


def api_key_require_scope(api_key: ApiKey, scope: str) -> None:
    """Raise ``scope_denied`` unless the key carries ``scope``."""
    if scope not in api_key.scopes:
        raise ProtectionError("scope_denied")
