"""Idempotency-Key records: a retried create replays its first answer.

Owns ``IdempotencyRecord`` and its services. A record is claimed by inserting
it (unique per API key and key) inside the caller's transaction, before any
work. On PostgreSQL a concurrent insert of the same key waits on the unique
index until the first transaction commits, then fails and reads the finished
record, so two racing retries can never both create. Records expire after
``SIGNUP_IDEMPOTENCY_TTL`` and are removed by ``manage.py purge_expired``.

A stored answer holds no personal data: for a created person the record keeps
the person's id and the body with its personal fields blanked, and a replay
fills them in from the ``Person`` row. A database dump or a support query on
this table shows no email, phone or name (they live in one place, the Person,
so erasing a person erases them everywhere).
"""

import datetime
import json
import re
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from protection.base.crypto import keyed_digest
from protection.base.exceptions import ProtectionError
from protection.keys import ApiKey
from signup.conf import signup_settings
from signup.persons import Person

IDEMPOTENCY_KEY_MAX_LENGTH = 255
# Visible ASCII, no spaces; the OpenAPI document states the same pattern.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
_KEY_FORMAT = re.compile(IDEMPOTENCY_KEY_PATTERN)
# Members of a created person's body that are read back from the Person row.
PERSONAL_FIELDS = ("email", "phone", "full_name")


class IdempotencyRecord(models.Model):
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    # Keyed hash of the canonical request body: tells "same request" from
    # "same key, other request" without storing the body twice.
    request_digest = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # JSON text, not a JSON column: PostgreSQL's jsonb reorders keys, and a
    # replay must be the first answer byte for byte.
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_per_api_key")
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id}:{self.key}"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def idempotency_key_validate(raw: str) -> str:
    """Return the key or raise ``invalid_request`` (1–255 visible ASCII characters)."""
    if not _KEY_FORMAT.fullmatch(raw):
        raise ProtectionError(
            "invalid_request",
            "Idempotency-Key must be 1 to 255 visible ASCII characters.",
        )
    return raw


def request_digest(data: Any) -> str:
    """Keyed hash of a parsed JSON body; key order and whitespace do not matter."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return keyed_digest(canonical, purpose="signup-idempotency")


def idempotency_claim(
    *,
    api_key: ApiKey,
    key: str,
    digest: str,
    now: datetime.datetime | None = None,
) -> IdempotencyRecord | StoredResponse:
    """Claim ``key`` for this request, or return the stored response of its first use.

    Must run inside a transaction (the claim commits or rolls back with the
    work it guards). Raises ``idempotency_conflict`` when the key was used
    with another body.
    """
    now = now or timezone.now()
    expires_at = now + datetime.timedelta(seconds=signup_settings.SIGNUP_IDEMPOTENCY_TTL)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    api_key=api_key,
                    key=key,
                    request_digest=digest,
                    created_at=now,
                    expires_at=expires_at,
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if existing is None:  # purged between our insert and our read: claim again
            continue
        if existing.expires_at <= now:  # expired but not purged yet: a fresh start
            existing.delete()
            continue
        if existing.request_digest != digest:
            raise ProtectionError("idempotency_conflict")
        if existing.response_status is None:
            # Only on databases without row-level waiting: the first request has
            # not finished. Not stored, so a later retry gets the real answer.
            raise ProtectionError("idempotency_in_progress")
        body = _stored_body_render(json.loads(existing.response_body or "{}"))
        if body is None:  # the person was erased since: nothing left to replay
            existing.delete()
            continue
        return StoredResponse(status=existing.response_status, body=body)
    raise ProtectionError("idempotency_in_progress")


def idempotency_replay(
    *, api_key: ApiKey, key: str, digest: str, now: datetime.datetime | None = None
) -> StoredResponse | None:
    """The stored answer of ``key``'s first use with this same body, if it has
    completed; raises ``idempotency_conflict`` when it was used with another
    body (a read only: the claim, in the create's transaction, decides races).
    """
    now = now or timezone.now()
    existing = IdempotencyRecord.objects.filter(
        api_key=api_key, key=key, expires_at__gt=now
    ).first()
    if existing is None:
        return None
    if existing.request_digest != digest:
        raise ProtectionError("idempotency_conflict")
    if existing.response_status is None:
        return None
    body = _stored_body_render(json.loads(existing.response_body or "{}"))
    return None if body is None else StoredResponse(existing.response_status, body)


def _stored_body_render(stored: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to replay from a stored body (None if its person is gone)."""
    if not isinstance(stored.get("person_id"), str) or not isinstance(stored.get("body"), dict):
        return stored  # no personal data in it (a problem body)
    person = Person.objects.filter(pk=stored["person_id"]).first()
    if person is None:
        return None
    return {
        name: getattr(person, name) if name in PERSONAL_FIELDS else value
        for name, value in stored["body"].items()
    }


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: dict[str, Any]) -> None:
    """Store the final answer of a claimed request, for replay, without personal data."""
    stored: dict[str, Any] = body
    if isinstance(body.get("id"), str) and any(name in body for name in PERSONAL_FIELDS):
        stored = {
            "person_id": body["id"],
            "body": {name: None if name in PERSONAL_FIELDS else v for name, v in body.items()},
        }
    record.response_status = status
    record.response_body = json.dumps(stored, cls=DjangoJSONEncoder)
    record.save(update_fields=["response_status", "response_body"])


def idempotency_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete expired records; return how many."""
    now = now or timezone.now()
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now).delete()
    return deleted
