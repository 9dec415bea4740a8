"""The labels export for tuning: one row per labelled person, the signals known at
its creation and its label; never an email, phone, name, address or device id.

``labelled_persons_export(since=...)`` yields the rows (``EXPORT_COLUMNS``
in order); ``manage.py export_labels`` writes them as JSON lines or CSV.
The signals come from the person's creation snapshot (``signup.snapshot``)
while it is kept (``PERSON_SIGNALS_RETENTION``); after that only what the
person row keeps is left (key, risk, reasons) and ``snapshot_kept`` is false.
Device ids and IP prefixes appear only as keyed digests (``device_digest``,
``ip_digest``): rows that share one came from the same device or network,
and no one without the signing key can tell which. The label's free-text
reason is not exported: staff may have written anything there.
"""

import datetime
import json
from collections.abc import Iterator
from typing import Any

from signup.persons import Person
from signup.snapshot import CreationSnapshot, snapshot_digest

EXPORT_COLUMNS = (
    "person_id",
    "created_at",
    "label",
    "labelled_at",
    "api_key",
    "verdict_action",
    "risk",
    "reasons",
    "network_asn",
    "network_country",
    "network_class",
    "attestation",
    "device_verified",
    "device_digest",
    "ip_digest",
    "pow_ms",
    "tier",
    "velocity",
    "snapshot_kept",
)


def _iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _row(person: Person, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    data = snapshot or {}
    verdict = data.get("verdict") or {}
    network = data.get("network") or {}
    device = data.get("device") or {}
    prefix = data.get("ip_prefix")
    return {
        "person_id": str(person.id),
        "created_at": _iso(person.created_at),
        "label": person.label,
        "labelled_at": _iso(person.labelled_at),
        "api_key": getattr(person.created_by_key, "public_id", None) or data.get("api_key"),
        "verdict_action": verdict.get("action"),
        "risk": verdict.get("risk", person.risk),
        "reasons": list(verdict.get("reasons", person.risk_reasons) or []),
        "network_asn": network.get("asn"),
        "network_country": network.get("country") or None,
        "network_class": network.get("class") or None,
        "attestation": list(data.get("attestation") or []),
        "device_verified": bool(device.get("verified")) if device else None,
        "device_digest": device.get("digest") or None,
        "ip_digest": snapshot_digest(prefix, what="ip") if prefix else None,
        "pow_ms": data.get("pow_ms"),
        "tier": data.get("tier"),
        "velocity": data.get("velocity") or {},
        "snapshot_kept": snapshot is not None,
    }


def labelled_persons_export(*, since: datetime.datetime | None = None) -> Iterator[dict[str, Any]]:
    """One row per labelled person (labelled at or after ``since``), oldest label first."""
    persons = Person.objects.exclude(label="").select_related("created_by_key", "creation_snapshot")
    if since is not None:
        persons = persons.filter(labelled_at__gte=since)
    for person in persons.order_by("labelled_at", "pk").iterator(chunk_size=500):
        try:
            snapshot: dict[str, Any] | None = dict(person.creation_snapshot.data)
        except CreationSnapshot.DoesNotExist:
            snapshot = None
        yield _row(person, snapshot)


def csv_cell(value: Any) -> Any:
    """A row value as one CSV cell: lists space-separated, objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
