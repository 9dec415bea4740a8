"""Webhook endpoints (create, change, disable, enable) and ``webhooks_emit``.

``webhooks_emit(event_type, data)`` writes one outbox message per enabled
endpoint subscribed to ``event_type``, in the caller's transaction: a
person created and its ``person.created`` commit together or not at all.
Every change of an endpoint is an event (``webhook_endpoint_changed``; a
disable is a ``webhook_endpoint_disabled`` alert).
"""

import datetime
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from protection.core.events import event_record
from protection.core.outbox import OutboxMessage, outbox_enqueue
from protection.core.verdict import Verdict
from protection.webhooks.events import (
    EVENT_TYPES,
    webhook_body,
    webhook_event_types_clean,
    webhook_person_created_data,
    webhook_person_labelled_data,
)
from protection.webhooks.models import WebhookEndpoint
from protection.webhooks.signing import webhook_secret_generate
from protection.webhooks.targets import webhook_target_resolve, webhook_url_parse


def _by(user: Any) -> str | None:
    return getattr(user, "username", None)


def webhook_url_clean(url: str) -> str:
    """``url`` stripped, if it may be called now (SSRF check); else ValueError.

    A name that does not resolve is refused too: an endpoint is checked
    against what it points at, and a typo is caught here rather than in 24
    hours of failed deliveries.
    """
    url = url.strip()
    webhook_url_parse(url)
    webhook_target_resolve(url)
    return url


def webhook_endpoint_create(
    *,
    url: str,
    event_types: str | Iterable[str],
    description: str = "",
    created_by: Any = None,
    now: datetime.datetime | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; return it and its signing secret (show it once).

    Raises ValueError for a URL that may not be called or unknown event types.
    """
    url = webhook_url_clean(url)
    types = webhook_event_types_clean(event_types)
    secret = webhook_secret_generate()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url,
            description=description[:200],
            secret=secret,
            event_types=types,
            created_at=now or timezone.now(),
            created_by=created_by,
        )
        event_record(
            kind="webhook_endpoint_changed",
            decision="allow",
            reason="created",
            details={"endpoint_id": endpoint.pk, "event_types": types, "by": _by(created_by)},
        )
    return endpoint, secret


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, changes: Mapping[str, Any], changed_by: Any = None
) -> WebhookEndpoint:
    """Change ``url``, ``event_types`` or ``description`` (checked as at creation)."""
    fields = []
    if "url" in changes:
        endpoint.url = webhook_url_clean(changes["url"])
        fields.append("url")
    if "event_types" in changes:
        endpoint.event_types = webhook_event_types_clean(changes["event_types"])
        fields.append("event_types")
    if "description" in changes:
        endpoint.description = str(changes["description"])[:200]
        fields.append("description")
    if not fields:
        return endpoint
    with transaction.atomic():
        endpoint.save(update_fields=fields)
        event_record(
            kind="webhook_endpoint_changed",
            decision="allow",
            reason="changed",
            details={"endpoint_id": endpoint.pk, "fields": fields, "by": _by(changed_by)},
        )
    return endpoint


def webhook_endpoint_disable(
    *,
    endpoint: WebhookEndpoint,
    reason: str,
    code: str = "staff",
    disabled_by: Any = None,
    now: datetime.datetime | None = None,
) -> WebhookEndpoint:
    """Stop delivering to ``endpoint`` (its pending deliveries die when their turn comes).

    ``code`` names why in the alert: ``failing``, ``gone`` (410),
    ``target_refused`` or ``staff``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        if not endpoint.enabled:
            return endpoint
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = reason[:200]
        endpoint.save(update_fields=["enabled", "disabled_at", "disabled_reason"])
        event_record(
            kind="webhook_endpoint_disabled",
            decision="alert",
            reason=code,
            details={
                "endpoint_id": endpoint.pk,
                "failing_since": endpoint.failing_since.isoformat()
                if endpoint.failing_since
                else None,
                "failures": endpoint.consecutive_failures,
                "last_error": endpoint.last_error,
                "by": _by(disabled_by),
            },
        )
    return endpoint


def webhook_endpoint_enable(
    *, endpoint: WebhookEndpoint, enabled_by: Any = None
) -> WebhookEndpoint:
    """Deliver to ``endpoint`` again, its failure record cleared (events meanwhile are lost)."""
    with transaction.atomic():
        if endpoint.enabled:
            return endpoint
        endpoint.enabled = True
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
        endpoint.consecutive_failures = 0
        endpoint.save(
            update_fields=[
                "enabled",
                "disabled_at",
                "disabled_reason",
                "failing_since",
                "consecutive_failures",
            ]
        )
        event_record(
            kind="webhook_endpoint_changed",
            decision="allow",
            reason="enabled",
            details={"endpoint_id": endpoint.pk, "by": _by(enabled_by)},
        )
    return endpoint


def webhooks_emit(
    event_type: str,
    data: Mapping[str, Any],
    *,
    now: datetime.datetime | None = None,
) -> list[OutboxMessage]:
    """Queue ``event_type`` with ``data`` for every enabled endpoint subscribed to it.

    Runs in the caller's transaction (the rows commit with the change);
    returns the outbox messages written (none when nobody subscribes).
    Raises ValueError for an undeclared event type.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Undeclared webhook event type {event_type!r}")
    now = now or timezone.now()
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(enabled=True).only("pk", "event_types")
        if event_type in (endpoint.event_types or [])
    ]
    if not endpoints:
        return []
    body = webhook_body(event_type=event_type, data=data, occurred_at=now)
    return [
        outbox_enqueue(
            channel="webhook",
            payload={"endpoint": endpoint.pk, "body": body},
            topic=event_type,
            target=endpoint.target,
            now=now,
        )
        for endpoint in endpoints
    ]


def webhooks_person_created_emit(
    *,
    person_id: UUID | str,
    created_at: datetime.datetime,
    api_key_public_id: str | None,
    session_id: UUID | str | None,
    verdict: Verdict | Mapping[str, Any] | None,
    email: str | None = None,
    phone: str | None = None,
    full_name: str | None = None,
) -> list[OutboxMessage]:
    """Queue ``person.created`` (call it inside the transaction that creates the person).

    ``email``, ``phone`` and ``full_name`` are sent only with ``WEBHOOKS_INCLUDE_PII``.
    """
    data = webhook_person_created_data(
        person_id=person_id,
        created_at=created_at,
        api_key_public_id=api_key_public_id,
        session_id=session_id,
        verdict=verdict,
        email=email,
        phone=phone,
        full_name=full_name,
    )
    return webhooks_emit("person.created", data, now=created_at)


def webhooks_person_labelled_emit(
    *,
    person_id: UUID | str,
    label: str,
    reason: str = "",
    labelled_at: datetime.datetime,
) -> list[OutboxMessage]:
    """Queue ``person.labelled`` (inside the transaction that stores the label)."""
    data = webhook_person_labelled_data(
        person_id=person_id, label=label, reason=reason, labelled_at=labelled_at
    )
    return webhooks_emit("person.labelled", data, now=labelled_at)
