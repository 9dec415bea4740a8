"""Protection's own events, told to webhooks: a reaction on ``event_recorded``.

``webhooks_event_observe`` is connected in ``ProtectionConfig.ready``;
recording an event never calls it. It runs where the event was recorded,
inside that transaction: a block and its ``block.created`` commit together.
Dry-run alerts (``details.dry_run``) are not blocks and send nothing. It
never raises: a webhook must not turn a block or a denial into a 500.
"""

import logging
from typing import Any

from django.db import transaction

from protection.webhooks.services import webhooks_emit

logger = logging.getLogger("gatehouse.webhooks")

EVENT_TYPE_OF_KIND = {
    "client_blocked": "block.created",
    "client_unblocked": "block.lifted",
    "key_abuse_suspected": "key.abuse_suspected",
}


def _data(event: Any) -> dict[str, Any]:
    details = event.details or {}
    if event.kind == "key_abuse_suspected":
        return {
            "api_key": getattr(event.api_key, "public_id", None),
            "rule": details.get("rule") or event.reason,
            "difficulty_boost": details.get("difficulty_boost"),
            "trigger": details.get("trigger"),
        }
    data = {
        "block_id": details.get("block_id"),
        "kind": details.get("block_kind"),
        "value": details.get("value"),
        "reason": event.reason,
    }
    if event.kind == "client_blocked":
        data.update(rule=details.get("rule"), expires_at=details.get("expires_at"))
    return data


def webhooks_event_observe(*, event: Any, **kwargs: Any) -> None:
    """``event_recorded`` receiver: emit the webhook event a security event stands for."""
    event_type = EVENT_TYPE_OF_KIND.get(event.kind)
    if event_type is None or (event.details or {}).get("dry_run"):
        return
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's work whole
            webhooks_emit(event_type, _data(event), now=event.created_at)
    except Exception:
        logger.exception("Could not queue the %s webhook", event_type)
