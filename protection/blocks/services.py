"""Block lifecycle: create, lift, update and purge blocks, each a transaction
and an event; ``block_target`` says what a block of a value really stores.
Checking requests against the blocks is ``protection.blocks.check``."""

import datetime
import ipaddress
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from protection.base import crypto
from protection.base.clientip import rate_limit_ident
from protection.blocks.models import BlockedClient, block_value_normalize
from protection.blocks.ruleset import blocks_version_bump, registry
from protection.conf import gatehouse_settings
from protection.core.events import event_record


def blocks_changed() -> None:
    """Call inside the transaction of a block change: this process reloads at
    once, every other one when the new version (written in this transaction)
    reaches it."""
    registry.invalidate()
    blocks_version_bump()


def _event_value(kind: str, value: str) -> str:
    # Devices and domains may be personal-ish; addresses, key ids and sessions are not.
    if kind in (BlockedClient.Kind.DEVICE, BlockedClient.Kind.EMAIL_DOMAIN):
        return crypto.keyed_digest(value, purpose=f"block-{kind}")[:32]
    return value


def block_target(*, kind: str, value: str, force: bool = False) -> tuple[str, str]:
    """Return the ``(kind, value)`` a block of ``value`` really stores, or raise ValueError.

    An IPv6 address stands for its client's whole /64 (``IPV6_GROUP_PREFIX``),
    as the rate limits count it: one subscriber holds the prefix and would
    step around a single-address block. A network broader than
    ``BLOCKS_BROADEST_PREFIX_IPV4`` / ``_IPV6`` (``0.0.0.0/0`` shuts everyone
    out) needs ``force``.
    """
    value = block_value_normalize(kind, value)
    if kind == BlockedClient.Kind.IP and ":" in value:
        kind, value = BlockedClient.Kind.CIDR, rate_limit_ident(value)
    if kind == BlockedClient.Kind.CIDR and not force:
        network = ipaddress.ip_network(value)
        broadest = int(
            gatehouse_settings.BLOCKS_BROADEST_PREFIX_IPV4
            if network.version == 4
            else gatehouse_settings.BLOCKS_BROADEST_PREFIX_IPV6
        )
        if network.prefixlen < broadest:
            raise ValueError(
                f"{value} is broader than /{broadest} ({network.num_addresses} addresses): "
                "confirm with force (block_client --force)"
            )
    return kind, value


def block_create(
    *,
    kind: str,
    value: str,
    reason: str = "",
    duration: datetime.timedelta | None = None,
    created_by: Any = None,
    rule: str = "",
    now: datetime.datetime | None = None,
    details: dict[str, Any] | None = None,
    force: bool = False,
) -> BlockedClient:
    """Block ``value`` of ``kind`` for ``duration`` (None = permanent); return the block.

    Blocking what is already blocked extends the active block when the new
    one ends later. An IPv6 ``ip`` becomes its /64 ``cidr`` (``block_target``).
    Raises ValueError for a malformed value, or a network broader than the
    configured prefix without ``force``.
    """
    if duration is not None and duration <= datetime.timedelta(0):
        raise ValueError("A block's duration must be positive (omit it for a permanent block)")
    now = now or timezone.now()
    kind, value = block_target(kind=kind, value=value, force=force)
    expires_at = now + duration if duration is not None else None
    with transaction.atomic():
        block = (
            BlockedClient.objects.select_for_update()
            .filter(kind=kind, value=value, lifted_at__isnull=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .first()
        )
        if block is not None:
            ends_later = expires_at is None or (
                block.expires_at is not None and expires_at > block.expires_at
            )
            if block.expires_at is not None and ends_later:
                block.expires_at = expires_at
                block.reason = (reason or block.reason)[:200]
                block.save(update_fields=["expires_at", "reason"])
        else:
            block = BlockedClient.objects.create(
                kind=kind,
                value=value,
                reason=reason[:200],
                created_at=now,
                expires_at=expires_at,
                created_by=created_by,
                created_by_rule=rule[:64],
            )
        event_record(
            kind="client_blocked",
            decision="alert",
            reason=(rule or "staff")[:64],
            client_ip=value if kind == BlockedClient.Kind.IP else None,
            details={
                "block_id": block.pk,
                "block_kind": kind,
                "value": _event_value(kind, value),
                "expires_at": expires_at.isoformat() if expires_at else None,
                "rule": rule or None,
                "by": getattr(created_by, "username", None),
                **(details or {}),
            },
        )
        blocks_changed()
    return block


def block_lift(
    *, block: BlockedClient, lifted_by: Any = None, now: datetime.datetime | None = None
) -> BlockedClient:
    """End ``block`` now (kept for history until purged)."""
    now = now or timezone.now()
    with transaction.atomic():
        if block.lifted_at is None:
            block.lifted_at = now
            block.lifted_by = lifted_by
            block.save(update_fields=["lifted_at", "lifted_by"])
            event_record(
                kind="client_unblocked",
                decision="allow",
                reason="staff" if lifted_by is not None else "command",
                details={
                    "block_id": block.pk,
                    "block_kind": block.kind,
                    "value": _event_value(block.kind, block.value),
                    "by": getattr(lifted_by, "username", None),
                },
            )
            blocks_changed()
    return block


def block_update(
    *,
    block: BlockedClient,
    reason: str,
    expires_at: datetime.datetime | None,
    changed_by: Any = None,
) -> BlockedClient:
    """Change a block's reason or end (staff edit in the admin)."""
    with transaction.atomic():
        block.reason = reason[:200]
        block.expires_at = expires_at
        block.save(update_fields=["reason", "expires_at"])
        event_record(
            kind="client_block_changed",
            decision="alert",
            reason="staff",
            details={
                "block_id": block.pk,
                "block_kind": block.kind,
                "value": _event_value(block.kind, block.value),
                "expires_at": expires_at.isoformat() if expires_at else None,
                "by": getattr(changed_by, "username", None),
            },
        )
        blocks_changed()
    return block


def blocks_lift(
    *, kind: str, value: str, lifted_by: Any = None, now: datetime.datetime | None = None
) -> int:
    """Lift every active block of ``kind``/``value``; return how many.

    An IPv6 ``ip`` lifts its /64 block and any older single-address one.
    """
    now = now or timezone.now()
    value = block_value_normalize(kind, value)
    targets = Q(kind=kind, value=value)
    if (kind, value) != (target := block_target(kind=kind, value=value, force=True)):
        targets |= Q(kind=target[0], value=target[1])
    active = BlockedClient.objects.filter(targets, lifted_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    lifted = 0
    for block in active:
        block_lift(block=block, lifted_by=lifted_by, now=now)
        lifted += 1
    return lifted


def blocks_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete blocks that ended more than ``BLOCKS_KEEP_ENDED_FOR`` seconds ago."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=int(gatehouse_settings.BLOCKS_KEEP_ENDED_FOR))
    deleted, _ = BlockedClient.objects.filter(
        Q(lifted_at__lte=cutoff) | Q(expires_at__lte=cutoff)
    ).delete()
    return deleted
