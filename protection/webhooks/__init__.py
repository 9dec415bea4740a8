"""Outbound webhooks: endpoints, Standard Webhooks signatures, delivery through the outbox.

``webhooks_emit(event_type, data)`` queues an event for every subscribed
endpoint in the caller's transaction; the outbox's sender delivers it
(``protection.webhooks.delivery``). Protection's own blocks and key alerts
are emitted by a listener on ``event_recorded``; signup emits
``person.created`` and ``person.labelled`` with the payload builders here.
"""

from protection.webhooks.events import (
    EVENT_TYPES,
    webhook_body,
    webhook_event_types_clean,
    webhook_person_created_data,
    webhook_person_labelled_data,
)
from protection.webhooks.models import WebhookEndpoint
from protection.webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_endpoint_update,
    webhook_url_clean,
    webhooks_emit,
    webhooks_person_created_emit,
    webhooks_person_labelled_emit,
)
from protection.webhooks.signing import webhook_secret_generate, webhook_signature_headers
from protection.webhooks.targets import WebhookTargetError, address_is_public

__all__ = [
    "EVENT_TYPES",
    "WebhookEndpoint",
    "WebhookTargetError",
    "address_is_public",
    "webhook_body",
    "webhook_endpoint_create",
    "webhook_endpoint_disable",
    "webhook_endpoint_enable",
    "webhook_endpoint_update",
    "webhook_event_types_clean",
    "webhook_person_created_data",
    "webhook_person_labelled_data",
    "webhook_secret_generate",
    "webhook_signature_headers",
    "webhook_url_clean",
    "webhooks_emit",
    "webhooks_person_created_emit",
    "webhooks_person_labelled_emit",
    "webhooks_channel_register",
]


def webhooks_channel_register() -> None:
    """Register the outbox's ``webhook`` channel and the event listener (``ready``)."""
    from protection.core.events import event_recorded
    from protection.core.outbox import outbox_channel_register
    from protection.webhooks.delivery import webhook_deliver, webhook_delivery_observe
    from protection.webhooks.listeners import webhooks_event_observe

    outbox_channel_register("webhook", webhook_deliver, observe=webhook_delivery_observe)
    event_recorded.connect(webhooks_event_observe, dispatch_uid="gatehouse.webhooks")
