"""Fraud labels become blocks (the policy tier): block what a labelled client came with.

A host app keeps who was labelled, by whom, when and why (signup: its
persons, ``signup.labels``) and, with each created record, a creation
snapshot (``signup.snapshot``). When staff label a record ``fraud``, the
app hands that snapshot here: ``label_fraud_blocks_apply`` blocks, per
``LABEL_FRAUD_BLOCKS`` (kind -> seconds), what the snapshot names:

- ``session``: the session that created it (``snapshot["session"]``);
- ``device``: its device id (``snapshot["device"]``), only when an
  attestation verified it. A device id the client merely claimed is not
  blocked: device blocks match an id under every key, so blocking a claimed
  id would block whichever genuine, attested device owns it (the session
  and IP blocks still apply). ``label_device_target`` is the one place to
  change once device blocks can be scoped to a key;
- ``ip``: the creating client's address, IPv6 by its /64
  (``snapshot["ip_prefix"]``), unless it is never blocked automatically
  (``autoblock_exempt``: trusted proxies, ``AUTO_BLOCK_EXEMPT_NETWORKS``,
  the unknown-client bucket).

Each block is a ``client_blocked`` event whose reason is ``fraud_label``
(the block's rule), so ``block.created`` webhooks and the admin's rule filter
show it. A block that was already active is extended, not made:
``AppliedBlock.made`` says which, so lifting a label (``legit``) lifts only
what the fraud label made (``label_blocks_lift``).
"""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from protection.blocks import BlockedClient, block_create, block_lift, block_target
from protection.conf import gatehouse_settings
from protection.policy.autoblock import autoblock_exempt
from protection.policyfile import PolicyProblem

LABEL_RULE = "fraud_label"
LABEL_BLOCK_KINDS = ("session", "device", "ip")
# Longest a label's block may last (seconds): ten years, as block_client's durations.
MAX_LABEL_BLOCK_SECONDS = 3653 * 24 * 3600


@dataclass(frozen=True)
class AppliedBlock:
    """A block a fraud label applied: ``made`` by it, or an active one it extended."""

    target: str  # session, device or ip (the LABEL_FRAUD_BLOCKS kind)
    block: BlockedClient
    made: bool


@dataclass(frozen=True)
class SkippedTarget:
    """Something the label did not block, and why (shown to staff)."""

    target: str
    why: str


def _problems(value: Any) -> list[tuple[tuple[str, ...], str]]:
    if not isinstance(value, Mapping):
        return [((), 'expected a table of kind = seconds, e.g. {"session": 86400, "ip": 86400}')]
    problems: list[tuple[tuple[str, ...], str]] = []
    for kind, seconds in value.items():
        if kind not in LABEL_BLOCK_KINDS:
            problems.append(((str(kind),), f"not one of {', '.join(LABEL_BLOCK_KINDS)}"))
        elif isinstance(seconds, bool) or not isinstance(seconds, int | float):
            problems.append(((kind,), f"{seconds!r} is not a number of seconds"))
        elif not 0 < seconds <= MAX_LABEL_BLOCK_SECONDS:
            problems.append(((kind,), f"{seconds!r} is not in (0, {MAX_LABEL_BLOCK_SECONDS}]"))
    return problems


def label_fraud_blocks_problems(value: Any) -> list[str]:
    """What is wrong with a ``LABEL_FRAUD_BLOCKS`` value (empty when nothing)."""
    return [": ".join([*path, message]) for path, message in _problems(value)]


def label_fraud_blocks_policy_problems(value: Any, *, base: Any) -> list[PolicyProblem]:
    """``[label_fraud_blocks]`` in a policy file (replaces the setting's table)."""
    return [PolicyProblem(path, message) for path, message in _problems(value)]


def label_device_target(device: Any) -> tuple[str, str] | None:
    """The block that stands for the snapshot's device, or None when none may.

    A verified device (its id came from an attestation) is blocked by its
    id. A claimed one is not: today's device blocks match the id under every
    key, and it could be a verified device's id (see the module docstring).
    """
    if not isinstance(device, Mapping) or not device.get("id"):
        return None
    if not device.get("verified"):
        return None
    return BlockedClient.Kind.DEVICE, str(device["id"])


def label_block_targets(
    snapshot: Mapping[str, Any],
) -> tuple[list[tuple[str, str, str]], list[SkippedTarget]]:
    """What a fraud label on ``snapshot`` blocks: ``(target, block kind, value)``
    for each kind of ``LABEL_FRAUD_BLOCKS``, and what it skips, and why."""
    wanted = gatehouse_settings.LABEL_FRAUD_BLOCKS or {}
    targets: list[tuple[str, str, str]] = []
    skipped: list[SkippedTarget] = []
    if "session" in wanted:
        if snapshot.get("session"):
            targets.append(("session", BlockedClient.Kind.SESSION, str(snapshot["session"])))
        else:
            skipped.append(SkippedTarget("session", "no session is known"))
    if "device" in wanted:
        device = snapshot.get("device")
        target = label_device_target(device)
        if target is not None:
            targets.append(("device", *target))
        elif isinstance(device, Mapping) and device.get("id"):
            skipped.append(
                SkippedTarget(
                    "device",
                    "a claimed device id (not verified by attestation) is never blocked: "
                    "device blocks apply under every key",
                )
            )
        else:
            skipped.append(SkippedTarget("device", "no device id was sent"))
    if "ip" in wanted:
        prefix = str(snapshot.get("ip_prefix") or "")
        address = prefix.partition("/")[0]
        if not address or autoblock_exempt(address):
            skipped.append(SkippedTarget("ip", "the address is unknown or never blocked"))
        else:
            kind = BlockedClient.Kind.CIDR if "/" in prefix else BlockedClient.Kind.IP
            targets.append(("ip", kind, prefix))
    return targets, skipped


def _active_block_id(kind: str, value: str, now: datetime.datetime) -> int | None:
    kind, value = block_target(kind=kind, value=value, force=True)
    return (
        BlockedClient.objects.filter(kind=kind, value=value, lifted_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("pk", flat=True)
        .first()
    )


def label_fraud_blocks_apply(
    *,
    snapshot: Mapping[str, Any],
    reason: str,
    created_by: Any = None,
    details: Mapping[str, Any] | None = None,
    now: datetime.datetime | None = None,
) -> tuple[list[AppliedBlock], list[SkippedTarget]]:
    """Block what ``snapshot`` names, per ``LABEL_FRAUD_BLOCKS``, in one transaction.

    ``reason`` is the blocks' reason (shown in the admin); ``details`` go
    into each block's event (the labelled record's id). Returns the blocks
    applied and the targets skipped. A value that cannot be blocked (a
    malformed snapshot) is skipped, never raised.
    """
    now = now or timezone.now()
    durations = gatehouse_settings.LABEL_FRAUD_BLOCKS or {}
    targets, skipped = label_block_targets(snapshot)
    applied: list[AppliedBlock] = []
    with transaction.atomic():
        for target, kind, value in targets:
            try:
                existing = _active_block_id(kind, value, now)
                block = block_create(
                    kind=kind,
                    value=value,
                    reason=reason,
                    duration=datetime.timedelta(seconds=float(durations[target])),
                    created_by=created_by,
                    rule=LABEL_RULE,
                    now=now,
                    details={"label_target": target, **(details or {})},
                    force=True,  # a /64 at most: never broader than the client
                )
            except ValueError as exc:
                skipped.append(SkippedTarget(target, f"not blockable: {exc}"))
                continue
            applied.append(AppliedBlock(target, block, made=block.pk != existing))
    return applied, skipped


def label_blocks_lift(
    *,
    blocks: Iterable[BlockedClient],
    lifted_by: Any = None,
    now: datetime.datetime | None = None,
) -> list[BlockedClient]:
    """Lift those of ``blocks`` still active (a label undone); return them."""
    now = now or timezone.now()
    lifted = []
    with transaction.atomic():
        for block in blocks:
            if block.is_active(now):
                lifted.append(block_lift(block=block, lifted_by=lifted_by, now=now))
    return lifted
