"""The outbox's ``webhook`` channel: sign, post, judge the answer, keep the endpoint's record.

A 2xx answer is a success. Everything else fails the attempt and is
retried with backoff for ``OUTBOX_GIVE_UP_AFTER["webhook"]`` (24 h): a 3xx
(redirects are never followed: update the URL), a 4xx or 5xx (a
``Retry-After`` in seconds is honoured), a timeout (``WEBHOOKS_TIMEOUT``
for the whole exchange) or a refused connection. ``410 Gone`` disables the
endpoint at once, and so does a URL that now resolves to a non-public
address (refused, not called). An endpoint is disabled, with an alert,
when a delivery to it is given up (it failed for its whole horizon) or
when its deliveries have all failed for ``WEBHOOKS_DISABLE_AFTER``.
"""

import datetime
import logging
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from protection.conf import gatehouse_settings
from protection.core.outbox import (
    Delivery,
    OutboxMessage,
    Outcome,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from protection.core.outbox.http import HttpFailure, http_post, retry_after_seconds
from protection.webhooks.models import WebhookEndpoint
from protection.webhooks.services import webhook_endpoint_disable
from protection.webhooks.signing import webhook_signature_headers
from protection.webhooks.targets import WebhookTargetError, webhook_target_resolve

logger = logging.getLogger("gatehouse.webhooks")


def webhook_deliver(payload: Mapping[str, Any], delivery: Delivery) -> None:
    """Send one event to one endpoint (the channel's sender)."""
    endpoint_id = payload.get("endpoint")
    endpoint = None
    if endpoint_id is not None:
        endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        raise PermanentDeliveryError("the endpoint was deleted")
    if not endpoint.enabled:
        raise PermanentDeliveryError("the endpoint is disabled")
    try:
        address = webhook_target_resolve(endpoint.url)
    except WebhookTargetError as exc:
        if exc.retryable:
            raise RetryableDeliveryError(str(exc)) from None
        webhook_endpoint_disable(
            endpoint=endpoint, reason=str(exc), code="target_refused", now=delivery.now
        )
        raise PermanentDeliveryError(str(exc)) from None
    body = str(payload.get("body", "")).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "gatehouse-webhooks",
        **webhook_signature_headers(
            secret=endpoint.secret,
            message_id=delivery.message_id,
            timestamp=delivery.now,
            body=body,
        ),
    }
    try:
        answer = http_post(
            endpoint.url,
            body=body,
            headers=headers,
            timeout=float(gatehouse_settings.WEBHOOKS_TIMEOUT),
            address=address,
        )
    except HttpFailure as exc:
        raise RetryableDeliveryError(str(exc)) from None
    if 200 <= answer.status < 300:
        return
    if answer.status == 410:
        webhook_endpoint_disable(
            endpoint=endpoint,
            reason="the receiver answered 410 Gone",
            code="gone",
            now=delivery.now,
        )
        raise PermanentDeliveryError("HTTP 410 Gone: endpoint disabled")
    if 300 <= answer.status < 400:
        raise RetryableDeliveryError(f"HTTP {answer.status}: redirects are not followed")
    raise RetryableDeliveryError(
        f"HTTP {answer.status}", retry_after=retry_after_seconds(answer.headers.get("retry-after"))
    )


def webhook_delivery_observe(message: OutboxMessage, outcome: Outcome, error: str) -> None:
    """Keep the endpoint's failure record; disable it after WEBHOOKS_DISABLE_AFTER failing."""
    endpoint_id = message.target.removeprefix("webhook:")
    endpoint = (
        WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint_id.isdigit()
        else None
    )
    if endpoint is None or not endpoint.enabled:
        return  # deleted or disabled: nothing to account
    now = message.last_attempt_at or message.finished_at or timezone.now()
    if outcome == "sent":
        endpoint.failing_since = None
        endpoint.consecutive_failures = 0
        endpoint.last_success_at = now
        endpoint.save(update_fields=["failing_since", "consecutive_failures", "last_success_at"])
        return
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.consecutive_failures += 1
    endpoint.last_failure_at = now
    endpoint.last_error = error[:300]
    endpoint.save(
        update_fields=["failing_since", "consecutive_failures", "last_failure_at", "last_error"]
    )
    failing_for = now - endpoint.failing_since
    limit = datetime.timedelta(seconds=float(gatehouse_settings.WEBHOOKS_DISABLE_AFTER))
    # A delivery given up means every attempt failed for its whole horizon.
    if outcome == "dead" or failing_for >= limit:
        logger.warning(
            "webhook endpoint %s disabled: failing since %s",
            endpoint.pk,
            endpoint.failing_since,
        )
        webhook_endpoint_disable(
            endpoint=endpoint,
            reason=f"every delivery failed for {failing_for} (last: {error})",
            code="failing",
            now=now,
        )
