"""Block services: create, lift, check (with hit counting) and purge."""

import datetime
import ipaddress
import logging
import threading
import time
import uuid
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from protection.base import crypto
from protection.base.clientip import normalize_ip, rate_limit_ident
from protection.base.exceptions import ProtectionError
from protection.base.processstate import process_state_register
from protection.blocks.models import BlockedClient, block_value_normalize, email_domain_ascii
from protection.blocks.ruleset import blocks_version_bump, registry
from protection.conf import gatehouse_settings
from protection.core.events import event_record

logger = logging.getLogger("gatehouse.blocks")

BLOCKED_EVENT_INTERVAL = 60.0  # per block and process: a flood is one event a minute


def blocks_changed() -> None:
    """This process reloads at once; every other one after the transaction commits."""
    registry.invalidate()
    transaction.on_commit(blocks_version_bump)


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


class _HitRecorder:
    """Adds up block hits in memory and writes them with one F() UPDATE per block."""

    def __init__(self) -> None:
        self.pending: dict[int, int] = {}
        self.last_flush = time.monotonic()
        self.last_event: dict[int, float] = {}
        self.lock = threading.Lock()

    def add(self, block_id: int) -> bool:
        """Count a hit; return True if a ``blocked`` event is due for this block."""
        now = time.monotonic()
        with self.lock:
            self.pending[block_id] = self.pending.get(block_id, 0) + 1
            due = now - self.last_flush >= float(gatehouse_settings.BLOCKS_HIT_FLUSH_INTERVAL)
            event_due = now - self.last_event.get(block_id, -BLOCKED_EVENT_INTERVAL) >= (
                BLOCKED_EVENT_INTERVAL
            )
            if event_due:
                self.last_event[block_id] = now
        if due:
            self.flush()
        return event_due

    def flush(self) -> int:
        with self.lock:
            pending, self.pending = self.pending, {}
            self.last_flush = time.monotonic()
        now = timezone.now()
        for block_id, hits in pending.items():
            try:
                BlockedClient.objects.filter(pk=block_id).update(
                    hit_count=F("hit_count") + hits, last_hit_at=now
                )
            except Exception:  # losing a hit count must not fail the refusal
                logger.warning("Could not record %s hits on block %s", hits, block_id)
        return len(pending)


hit_recorder = _HitRecorder()


def _hit_recorder_reset() -> None:
    hit_recorder.pending.clear()
    hit_recorder.last_event.clear()


process_state_register("block hits", _hit_recorder_reset)


def blocks_flush_hits() -> int:
    """Write pending hit counts now; return how many blocks were updated."""
    return hit_recorder.flush()


def _candidates(
    ip: str | None, api_key: Any, session: Any, device_id: str, email_domain: str
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if api_key:
        found.append((BlockedClient.Kind.API_KEY, getattr(api_key, "public_id", str(api_key))))
    if session:
        raw = getattr(session, "id", session)
        try:
            found.append((BlockedClient.Kind.SESSION, str(uuid.UUID(str(raw)))))
        except ValueError:
            pass
        session_device = getattr(session, "device_id", "")
        if session_device and not device_id:
            device_id = session_device
    if device_id:
        found.append((BlockedClient.Kind.DEVICE, str(device_id).strip()))
    if email_domain:
        try:
            labels = email_domain_ascii(str(email_domain)).split(".")
        except ValueError:
            labels = []  # not a domain: nothing could have blocked it
        # A blocked domain covers its subdomains: mail.example.com under example.com.
        found += [
            (BlockedClient.Kind.EMAIL_DOMAIN, ".".join(labels[i:])) for i in range(len(labels) - 1)
        ]
    return found


def blocks_check(
    *,
    ip: str | None = None,
    api_key: Any = None,
    session: Any = None,
    device_id: str = "",
    email_domain: str = "",
) -> None:
    """Raise ``ProtectionError("blocked")`` if any given attribute is blocked.

    ``api_key`` is an ApiKey or a public id; ``session`` an AnonymousSession
    (its device is checked too) or a session id. No database query: the
    compiled in-process list answers; the hit is counted in memory.
    """
    compiled = registry.current()
    now = time.time()
    block_id = None
    if ip:
        block_id = compiled.match_ip(ip, now)
    if block_id is None:
        for kind, value in _candidates(ip, api_key, session, device_id, email_domain):
            block_id = compiled.match(kind, value, now)
            if block_id is not None:
                break
    if block_id is None:
        return
    if hit_recorder.add(block_id):
        try:
            event_record(
                kind="blocked",
                decision="deny",
                reason="blocked",
                client_ip=normalize_ip(ip) if ip else None,
                api_key=api_key if hasattr(api_key, "public_id") else None,
                session_id=getattr(session, "id", None),
                details={"block_id": block_id},
            )
        except Exception:  # the refusal stands even if the audit write fails
            logger.warning("Could not record a blocked request", exc_info=True)
    raise ProtectionError("blocked")
