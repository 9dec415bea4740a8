"""The creation snapshot: what a person came with, kept ``PERSON_SIGNALS_RETENTION``.

``creation_snapshot(context)`` builds it, in one place, from the create
request's context (``protection.http.context``) and what its session start
showed (``AnonymousSession.start_signals``); the create view passes it to
``person_insert``, which stores it as the person's ``CreationSnapshot`` in
the same transaction. A fraud label (``signup.labels``) blocks what it names
long after the session itself expired; ``export_labels`` learns from it.

What it holds (plain JSON; no email, phone or name, and no address wider
than the client's own /32 or /64):

- ``api_key``: the key's public id; ``session``: the creating session's id;
- ``device``: ``{"id", "digest", "verified"}`` or None. ``verified``: an
  attestation named the device (at this request or at the session start),
  not the client's word. The id itself is kept because a device block needs
  it (blocks match ids); it never leaves the snapshot (the export and the
  admin lists carry ``digest``, a keyed digest);
- ``ip_prefix``: the client's IPv4 address or IPv6 /64 (``IPV6_GROUP_PREFIX``);
- ``network``: ``{"asn", "country", "class"}`` (``context.origin``) or None
  when unknown;
- ``attestation``: the verifiers that passed, at the session start and at
  this request (``context.attested.verified``);
- ``pow_ms``: the proof-of-work solve time the client reported at session
  start (ALTCHA's ``solution.time``, stored in the session's start signals);
- ``tier``: the challenge ladder's tier for this client, when one is known:
  the session start's ``start_signals["tier"]`` or a verdict reason
  ``tier:<name>``; None until the ladder sets either;
- ``velocity``: ``{dimension: {rate: count}}``, the create's group limits
  as the request's round trip counted them (this request included);
- ``verdict``: ``{"action", "risk", "reasons"}``, the gate's.
"""

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils import timezone

from protection.base.clientip import rate_limit_ident
from protection.base.crypto import keyed_digest
from protection.core.verdict import Verdict
from protection.sessions import AnonymousSession
from signup.conf import signup_settings
from signup.persons import Person

if TYPE_CHECKING:  # the model module stays light: the edge is only read here
    from protection.http.context import RequestContext

SNAPSHOT_VERSION = 1
TIER_REASON_PREFIX = "tier:"


class CreationSnapshot(models.Model):
    """A person's creation snapshot (the module docstring says what it holds)."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, primary_key=True, related_name="creation_snapshot"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    data = models.JSONField(default=dict)

    class Meta:
        verbose_name = "creation snapshot"

    def __str__(self) -> str:
        return f"creation snapshot of {self.person_id}"


def snapshot_digest(value: str, *, what: str) -> str:
    """A keyed digest of ``value`` (a device id, an IP prefix) for exports and lists."""
    return keyed_digest(value, purpose=f"signup-snapshot-{what}")[:32]


def verdict_data(verdict: Verdict | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {"action": verdict.action, "risk": verdict.risk, "reasons": list(verdict.reasons)}


def _session_start_signals(context: "RequestContext") -> dict[str, Any]:
    if context.session is None:
        return {}
    signals = (
        AnonymousSession.objects.filter(pk=context.session.id)
        .values_list("start_signals", flat=True)
        .first()
    )
    return dict(signals) if isinstance(signals, Mapping) else {}


def _device(context: "RequestContext", start: Mapping[str, Any]) -> dict[str, Any] | None:
    if context.attested.device_id:  # verified at this very request
        device_id, verified = context.attested.device_id, True
    elif context.session is not None and context.session.device_id:
        device_id, verified = context.session.device_id, bool(start.get("device_verified"))
    else:
        return None
    return {
        "id": device_id,
        "digest": snapshot_digest(device_id, what="device"),
        "verified": verified,
    }


def _tier(verdict: Verdict | None, start: Mapping[str, Any]) -> str | None:
    if isinstance(start.get("tier"), str) and start["tier"]:
        return start["tier"]
    for reason in verdict.reasons if verdict is not None else ():
        if reason.startswith(TIER_REASON_PREFIX):
            return reason[len(TIER_REASON_PREFIX) :]
    return None


def _velocity(context: "RequestContext") -> dict[str, dict[str, int]]:
    velocity: dict[str, dict[str, int]] = {}
    for counted in context.limits.counted:
        velocity.setdefault(counted.dimension, {})[counted.rate] = counted.result.count
    return velocity


def creation_snapshot(
    context: "RequestContext", *, start_signals: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The snapshot of a create, from its request's context (after the gate judged it).

    ``start_signals``: the session start's, when the caller has them (else
    read from the session's row: one query).
    """
    start = dict(start_signals) if start_signals is not None else _session_start_signals(context)
    attested = [*start.get("attested", ()), *context.attested.verified]
    return {
        "version": SNAPSHOT_VERSION,
        "api_key": getattr(context.api_key, "public_id", None),
        "session": str(context.session.id) if context.session is not None else None,
        "device": _device(context, start),
        "ip_prefix": rate_limit_ident(context.client_ip) if context.client_ip else None,
        "network": None if context.origin.unknown else context.origin.as_details(),
        "attestation": list(dict.fromkeys(str(name) for name in attested)),
        "pow_ms": start.get("pow_ms"),
        "tier": _tier(context.verdict, start),
        "velocity": _velocity(context),
        "verdict": verdict_data(context.verdict),
    }


def creation_snapshot_basic(
    *,
    api_key_public_id: str | None,
    session_id: Any,
    client_ip: str | None,
    verdict: Verdict | None,
) -> dict[str, Any]:
    """The least a snapshot holds, from what any create knows (no request context)."""
    return {
        "version": SNAPSHOT_VERSION,
        "api_key": api_key_public_id,
        "session": str(session_id) if session_id else None,
        "device": None,
        "ip_prefix": rate_limit_ident(client_ip) if client_ip else None,
        "network": None,
        "attestation": [],
        "pow_ms": None,
        "tier": None,
        "velocity": {},
        "verdict": verdict_data(verdict),
    }


def creation_snapshots_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete snapshots older than ``PERSON_SIGNALS_RETENTION``; return how many."""
    now = now or timezone.now()
    keep_for = datetime.timedelta(seconds=int(signup_settings.PERSON_SIGNALS_RETENTION))
    deleted, _ = CreationSnapshot.objects.filter(created_at__lt=now - keep_for).delete()
    return deleted
