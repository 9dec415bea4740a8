"""The webhook event types and the shape of their ``data``.

Every delivery's body is ``{"type", "timestamp", "data"}`` (Standard
Webhooks' recommended shape), serialised once when the event is emitted:
every retry sends the same bytes. ``data`` never holds an email address,
phone number or name unless ``WEBHOOKS_INCLUDE_PII`` is on (person.created).
"""

import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from protection.conf import gatehouse_settings
from protection.core.verdict import Verdict

EVENT_TYPES: dict[str, str] = {
    "person.created": (
        "A person was created: `person_id`, `created_at`, `api_key` (public id), "
        "`session_id`, `verdict` {`action`, `risk`, `reasons`}; `email`, `phone`, "
        "`full_name` only with WEBHOOKS_INCLUDE_PII."
    ),
    "person.labelled": (
        "A person was labelled fraud or legit: `person_id`, `label`, `reason`, `labelled_at`."
    ),
    "block.created": (
        "A client was blocked (or an active block extended): `block_id`, `kind`, `value`, "
        "`reason`, `rule`, `expires_at`."
    ),
    "block.lifted": "A block was lifted: `block_id`, `kind`, `value`, `reason`.",
    "key.abuse_suspected": (
        "A per-key automatic-blocking rule was crossed (the key's challenge difficulty "
        "was raised): `api_key`, `rule`, `difficulty_boost`, `trigger`."
    ),
}


def webhook_event_types_clean(value: str | Iterable[str]) -> list[str]:
    """A comma list or iterable of event types, checked and deduplicated; or ValueError."""
    items = value.split(",") if isinstance(value, str) else list(value)
    names = list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    unknown = [name for name in names if name not in EVENT_TYPES]
    if unknown:
        raise ValueError(
            f"Unknown webhook event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
        )
    if not names:
        raise ValueError(f"Name at least one event type: {', '.join(EVENT_TYPES)}")
    return names


def _iso(value: datetime.datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _verdict(verdict: Verdict | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    if isinstance(verdict, Verdict):
        return {"action": verdict.action, "risk": verdict.risk, "reasons": list(verdict.reasons)}
    return {
        "action": verdict.get("action"),
        "risk": verdict.get("risk"),
        "reasons": list(verdict.get("reasons") or []),
    }


def webhook_person_created_data(
    *,
    person_id: UUID | str,
    created_at: datetime.datetime,
    api_key_public_id: str | None,
    session_id: UUID | str | None,
    verdict: Verdict | Mapping[str, Any] | None,
    email: str | None = None,
    phone: str | None = None,
    full_name: str | None = None,
) -> dict[str, Any]:
    """The ``data`` of ``person.created``; the identifiers only with WEBHOOKS_INCLUDE_PII."""
    data: dict[str, Any] = {
        "person_id": str(person_id),
        "created_at": _iso(created_at),
        "api_key": api_key_public_id,
        "session_id": str(session_id) if session_id else None,
        "verdict": _verdict(verdict),
    }
    if gatehouse_settings.WEBHOOKS_INCLUDE_PII:
        data.update(email=email, phone=phone, full_name=full_name)
    return data


def webhook_person_labelled_data(
    *,
    person_id: UUID | str,
    label: str,
    reason: str = "",
    labelled_at: datetime.datetime,
) -> dict[str, Any]:
    """The ``data`` of ``person.labelled`` (``label``: ``fraud`` or ``legit``)."""
    return {
        "person_id": str(person_id),
        "label": label,
        "reason": reason,
        "labelled_at": _iso(labelled_at),
    }


def webhook_body(
    *, event_type: str, data: Mapping[str, Any], occurred_at: datetime.datetime
) -> str:
    """The body every endpoint receives, as compact JSON."""
    return json.dumps(
        {"type": event_type, "timestamp": _iso(occurred_at), "data": dict(data)},
        separators=(",", ":"),
        ensure_ascii=False,
    )
