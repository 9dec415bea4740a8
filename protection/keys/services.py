"""Key lifecycle: create, update, rotate, revoke — each a transaction and an event.

The raw key is returned once by create and rotate and never stored; only
the HMAC of its secret is. Revocation is final. Every change drops the key
from this process's verification cache at once (other processes within
the cache TTL, at most one second).
"""

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from protection.base import crypto
from protection.base.exceptions import ProtectionError
from protection.core.events import event_record
from protection.keys.cache import verified_keys
from protection.keys.ladder import challenge_ladder_clean
from protection.keys.models import (
    SCOPES,
    ApiKey,
    ApiKeyStatus,
    api_key_status,
    clean_attest_every_request,
    clean_captcha,
    clean_captcha_action,
    clean_origins,
    clean_scopes,
    clean_verifications,
    validate_attestation_overrides,
)
from protection.keys.network_policy import network_policy_clean

LIFECYCLE_EVENT = "api_key_lifecycle"
DEFAULT_GRACE = datetime.timedelta(hours=24)
# What an operator may change on an existing key; the kind is baked into the raw key.
UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "scopes",
        "allowed_origins",
        "required_verifications",
        "rate_limit_overrides",
        "recaptcha_version",
        "recaptcha_action",
        "recaptcha_min_score",
        "captcha",
        "captcha_action",
        "attest_every_request",
        "attestation_overrides",
        "verifications_dry_run",
        "network_policy",
        "challenge_ladder",
        "expires_at",
    }
)


def _actor(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _forget(api_key: ApiKey) -> None:
    verified_keys.forget(api_key.public_id)
    transaction.on_commit(lambda: verified_keys.forget(api_key.public_id))


def _clean_settings(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaners = {
        "scopes": clean_scopes,
        "allowed_origins": clean_origins,
        "required_verifications": clean_verifications,
        "captcha_action": clean_captcha_action,
    }
    cleaned = dict(fields)
    for name, cleaner in cleaners.items():
        if name in cleaned:
            cleaned[name] = cleaner(cleaned[name])
    if "name" in cleaned and not str(cleaned["name"]).strip():
        raise ValidationError("An API key needs a name.", code="invalid_name")
    if "rate_limit_overrides" in cleaned and not isinstance(cleaned["rate_limit_overrides"], dict):
        raise ValidationError("Rate-limit overrides must be a JSON object.", code="invalid")
    if "attestation_overrides" in cleaned:
        validate_attestation_overrides(cleaned["attestation_overrides"])
    if "network_policy" in cleaned:
        cleaned["network_policy"] = network_policy_clean(cleaned["network_policy"])
    if "challenge_ladder" in cleaned:
        cleaned["challenge_ladder"] = challenge_ladder_clean(cleaned["challenge_ladder"])
    return cleaned


def api_key_create(
    *,
    name: str,
    kind: str = ApiKey.Kind.PUBLISHABLE,
    scopes: Iterable[str] = SCOPES,
    allowed_origins: Iterable[str] = (),
    required_verifications: Iterable[str] = ("pow",),
    attestation_overrides: dict[str, Any] | None = None,
    network_policy: Mapping[str, str] | str | None = None,
    challenge_ladder: Mapping[str, Any] | str | None = None,
    expires_at: datetime.datetime | None = None,
    created_by: Any = None,
    replaces: ApiKey | None = None,
    now: datetime.datetime | None = None,
    **extra_fields: Any,
) -> tuple[ApiKey, str]:
    """Create a key and return ``(api_key, raw_key)``; the raw key is never stored.

    Raises django ``ValidationError`` for an unknown kind, scope or
    verification, a malformed origin, network policy or challenge ladder
    (``challenge_ladder_clean``: a partial ladder, or "off"), or a CAPTCHA that
    disagrees with the required verifications (``clean_captcha``).
    """
    if kind not in ApiKey.Kind.values:
        raise ValidationError(f"Unknown kind {kind!r}: publishable or secret.", code="invalid_kind")
    now = now or timezone.now()
    fields = _clean_settings(
        {
            "name": name,
            "scopes": scopes,
            "allowed_origins": allowed_origins,
            "required_verifications": required_verifications,
            "attestation_overrides": {} if attestation_overrides is None else attestation_overrides,
            "network_policy": network_policy,
            "challenge_ladder": challenge_ladder,
        }
    )
    fields["attest_every_request"] = clean_attest_every_request(
        extra_fields.pop("attest_every_request", False), fields["required_verifications"]
    )
    fields["captcha"] = clean_captcha(
        extra_fields.pop("captcha", ""), fields["required_verifications"]
    )
    if "captcha_action" in extra_fields:
        fields["captcha_action"] = clean_captcha_action(extra_fields.pop("captcha_action"))
    public_id = crypto.generate_public_id()
    raw_key, secret = crypto.generate_raw_key(kind=kind, public_id=public_id)
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            kind=kind,
            public_id=public_id,
            secret_hash=crypto.hash_secret(secret),
            expires_at=expires_at,
            created_by=created_by,
            created_at=extra_fields.pop("created_at", now),
            replaces=replaces,
            **fields,
            **extra_fields,
        )
        event_record(
            kind=LIFECYCLE_EVENT,
            decision="allow",
            reason="created",
            api_key=api_key,
            details={
                "by": _actor(created_by),
                "kind": kind,
                "replaces": replaces.public_id if replaces else None,
            },
        )
    _forget(api_key)  # a cached "unknown id" must not outlive the key's creation
    return api_key, raw_key


def api_key_update(
    *, api_key: ApiKey, changes: Mapping[str, Any], updated_by: Any = None
) -> ApiKey:
    """Apply ``changes`` (name, scopes, origins, verifications, overrides, expiry)."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"Not updatable: {', '.join(sorted(unknown))}")
    cleaned = _clean_settings(changes)
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if locked.revoked_at is not None:
            raise ProtectionError("api_key_revoked", "A revoked key cannot be changed.")
        if {"attest_every_request", "required_verifications"} & set(cleaned):
            cleaned["attest_every_request"] = clean_attest_every_request(
                cleaned.get("attest_every_request", locked.attest_every_request),
                cleaned.get("required_verifications", locked.required_verifications),
            )
        if {"captcha", "required_verifications"} & set(cleaned):
            cleaned["captcha"] = clean_captcha(
                cleaned.get("captcha", locked.captcha),
                cleaned.get("required_verifications", locked.required_verifications),
            )
        for name, value in cleaned.items():
            setattr(locked, name, value)
        locked.save(update_fields=sorted(cleaned) or None)
        event_record(
            kind=LIFECYCLE_EVENT,
            decision="allow",
            reason="changed",
            api_key=locked,
            details={"by": _actor(updated_by), "fields": sorted(cleaned)},
        )
    _forget(locked)
    return locked


def api_key_revoke(
    *, api_key: ApiKey, reason: str, revoked_by: Any = None, now: datetime.datetime | None = None
) -> ApiKey:
    """Revoke ``api_key`` for good; it stops working everywhere within a second.

    Raises ``api_key_already_revoked`` for a revoked key (the first
    revocation's time, reason and author are kept) and ValueError without a reason.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A revocation needs a reason")
    now = now or timezone.now()
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if locked.revoked_at is not None:
            raise ProtectionError("api_key_already_revoked")
        locked.revoked_at = now
        locked.revoked_reason = reason[:200]
        locked.revoked_by = revoked_by
        locked.save(update_fields=["revoked_at", "revoked_reason", "revoked_by"])
        event_record(
            kind=LIFECYCLE_EVENT,
            decision="allow",
            reason="revoked",
            api_key=locked,
            details={"by": _actor(revoked_by), "reason": reason[:200]},
        )
    _forget(locked)
    return locked


def api_key_rotate(
    *,
    api_key: ApiKey,
    grace: datetime.timedelta = DEFAULT_GRACE,
    rotated_by: Any = None,
    now: datetime.datetime | None = None,
    expires_at: datetime.datetime | None = None,
) -> tuple[ApiKey, str]:
    """Issue a successor with the same settings; the old key works until now + grace.

    Returns ``(new_key, raw_key)``. The old row is locked, so two rotations
    racing produce one successor: the loser gets ``api_key_already_rotated``.
    A revoked or expired key cannot be rotated. The successor expires at
    ``expires_at`` (default: never); rotation never extends the old key's life.
    """
    if grace < datetime.timedelta(0):
        raise ValueError("The grace period cannot be negative")
    now = now or timezone.now()
    with transaction.atomic():
        old = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        status = api_key_status(old, now)
        if status == ApiKeyStatus.REVOKED:
            raise ProtectionError("api_key_revoked", "A revoked key cannot be rotated.")
        if status == ApiKeyStatus.EXPIRED:
            raise ProtectionError(
                "api_key_expired", "An expired key cannot be rotated; create a new key."
            )
        live_successor = old.successors.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )
        if live_successor.exists():
            raise ProtectionError("api_key_already_rotated")
        new_key, raw_key = api_key_create(
            name=old.name,
            kind=old.kind,
            scopes=old.scopes,
            allowed_origins=old.allowed_origins,
            required_verifications=old.required_verifications,
            rate_limit_overrides=dict(old.rate_limit_overrides),
            recaptcha_version=old.recaptcha_version,
            recaptcha_action=old.recaptcha_action,
            recaptcha_min_score=old.recaptcha_min_score,
            captcha=old.captcha,
            captcha_action=old.captcha_action,
            attest_every_request=old.attest_every_request,
            verifications_dry_run=old.verifications_dry_run,
            attestation_overrides=dict(old.attestation_overrides),
            network_policy=dict(old.network_policy),
            challenge_ladder=dict(old.challenge_ladder),
            expires_at=expires_at,
            created_by=rotated_by,
            replaces=old,
            now=now,
        )
        grace_end = now + grace
        old.expires_at = min(old.expires_at, grace_end) if old.expires_at else grace_end
        old.rotated_at = now
        old.save(update_fields=["expires_at", "rotated_at"])
        event_record(
            kind=LIFECYCLE_EVENT,
            decision="allow",
            reason="rotated",
            api_key=old,
            details={
                "by": _actor(rotated_by),
                "successor": new_key.public_id,
                "grace_seconds": int(grace.total_seconds()),
            },
        )
    _forget(old)
    return new_key, raw_key
