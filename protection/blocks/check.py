"""Checking a request against the blocks: ``blocks_check`` and hit counting.

No database query per request: the compiled in-process list
(``protection.blocks.ruleset``) answers, hits are added up in memory and
written at most every ``BLOCKS_HIT_FLUSH_INTERVAL`` seconds, and a flood
against one block records one ``blocked`` event a minute per process.
"""

import logging
import threading
import time
import uuid
from typing import Any

from django.db.models import F
from django.utils import timezone

from protection.base.clientip import normalize_ip
from protection.base.exceptions import ProtectionError
from protection.base.processstate import process_state_register
from protection.blocks.models import BlockedClient, email_domain_ascii
from protection.blocks.ruleset import registry
from protection.conf import gatehouse_settings
from protection.core.events import event_record
from protection.netintel.origin import NetworkOrigin

logger = logging.getLogger("gatehouse.blocks")

BLOCKED_EVENT_INTERVAL = 60.0  # per block and process: a flood is one event a minute


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
    *,
    api_key: Any,
    session: Any,
    device_id: str,
    email_domain: str,
    origin: NetworkOrigin | None,
    phone_prefix: str,
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
    if origin is not None and not origin.unknown:
        if origin.asn is not None:
            found.append((BlockedClient.Kind.ASN, str(origin.asn)))
        if origin.country:
            found.append((BlockedClient.Kind.COUNTRY, origin.country))
        if origin.network_class:
            found.append((BlockedClient.Kind.NETWORK_CLASS, origin.network_class))
    if phone_prefix:
        # A blocked prefix covers every longer one: +1201 covers +1201555.
        prefix = str(phone_prefix).strip()
        found += [(BlockedClient.Kind.PHONE_PREFIX, prefix[:n]) for n in range(2, len(prefix) + 1)]
    return found


def blocks_check(
    *,
    ip: str | None = None,
    api_key: Any = None,
    session: Any = None,
    device_id: str = "",
    email_domain: str = "",
    origin: NetworkOrigin | None = None,
    phone_prefix: str = "",
) -> None:
    """Raise ``ProtectionError("blocked")`` if any given attribute is blocked.

    ``api_key`` is an ApiKey or a public id; ``session`` an AnonymousSession
    (its device is checked too) or a session id; ``origin`` the request's
    ``NetworkOrigin`` (its AS number, country and network class; an unknown
    origin matches nothing); ``phone_prefix`` an E.164 number without its
    last four digits (``+1201555``), matched by any blocked prefix of it.
    No database query: the compiled in-process list answers; the hit is
    counted in memory.
    """
    compiled = registry.current()
    now = time.time()
    block_id, block_kind = None, ""
    if ip:
        block_id, block_kind = compiled.match_ip(ip, now), "ip"
    if block_id is None:
        candidates = _candidates(
            api_key=api_key,
            session=session,
            device_id=device_id,
            email_domain=email_domain,
            origin=origin,
            phone_prefix=phone_prefix,
        )
        for kind, value in candidates:
            block_id, block_kind = compiled.match(kind, value, now), kind
            if block_id is not None:
                break
    if block_id is None:
        return
    if hit_recorder.add(block_id):
        details: dict[str, Any] = {"block_id": block_id, "block_kind": str(block_kind)}
        if origin is not None and not origin.unknown:
            details["network"] = origin.as_details()
        try:
            event_record(
                kind="blocked",
                decision="deny",
                reason="blocked",
                client_ip=normalize_ip(ip) if ip else None,
                api_key=api_key if hasattr(api_key, "public_id") else None,
                session_id=getattr(session, "id", None),
                details=details,
            )
        except Exception:  # the refusal stands even if the audit write fails
            logger.warning("Could not record a blocked request", exc_info=True)
    raise ProtectionError("blocked")
