"""The audit log: one append-only ``SecurityEvent`` row per denial and per
security-relevant success, and ``event_record``, the one way to write it.

Events are a sink. Recording one sends ``event_recorded`` (every event,
written or not); reactions such as automatic blocking, the denial counters
of ``protection.core.reputation`` and metrics listen, connected in
``ProtectionConfig.ready``. Nothing here calls them.

Writes are bounded under a flood. Allow events and alerts are written at
once. A denial (or a dry-run alert) is written at once while the process has write budget
left this second (``EVENTS_MAX_WRITES_PER_SECOND``); past it, denials are
added up in memory per kind, reason, path, client, key and session, and
written every ``EVENTS_FLUSH_INTERVAL`` seconds as rows whose ``count`` says
how many denials each stands for (at most ``EVENTS_FLUSH_MAX_ROWS`` rows per
flush; beyond that, rows merge per kind and reason). Listeners see
every denial, so automatic blocking and recent-denial counts stay exact.

Events never hold secrets or clear-text identifiers: callers pass keyed
digests (``protection.base.crypto.keyed_digest``) in ``details``. Client IP and
path come from the arguments or, inside a request, from ``event_scope``,
which the HTTP edge opens for each request.
"""

import contextlib
import contextvars
import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.dispatch import Signal
from django.utils import timezone

from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings
from protection.core.events.kinds import EVENT_KINDS
from protection.core.events.models import SecurityEvent

logger = logging.getLogger("gatehouse.events")

# Sent for every recorded event with ``event`` (a SecurityEvent; ``pk`` is
# None while an aggregated denial waits for its flush).
event_recorded = Signal()


# --- Where events happen: the request's client IP and path -----------------


@dataclass
class EventScope:
    client_ip: str | None = None
    path: str = ""
    # Where the client comes from (netintel), added to every event's details
    # once the gate has classified it: {"asn": …, "country": …, "class": …}.
    network: dict[str, Any] | None = None
    # A device an attestation verified in this request: the request's later
    # denials name it (details.device_id, device_verified), so device rules
    # count them. Claimed device ids never come from here.
    device_id: str | None = None
    # The challenge ladder's decision (tier, score, evidence asked and shown),
    # added to every event's details once the gate has made it.
    risk: dict[str, Any] | None = None
    # The device the request comes from, as the gate counts it (verified,
    # DPoP key or claimed per key; never in details): reputation counts
    # denials per device for the challenge ladder.
    device_subject: str | None = None


_scope: contextvars.ContextVar[EventScope | None] = contextvars.ContextVar(
    "gatehouse_event_scope", default=None
)


@contextlib.contextmanager
def event_scope(*, client_ip: str | None, path: str) -> Iterator[EventScope]:
    """Events recorded inside take this client IP and path unless given their own."""
    token = _scope.set(EventScope(client_ip=client_ip, path=path))
    try:
        yield _scope.get()  # type: ignore[misc]
    finally:
        _scope.reset(token)


def event_scope_network(network: dict[str, Any]) -> None:
    """Events recorded from now on in this scope carry ``details["network"]``."""
    scope = _scope.get()
    if scope is not None:
        scope.network = network


def event_scope_device(device_id: str | None) -> None:
    """Name the request's verified device for the events recorded after this."""
    scope = _scope.get()
    if scope is not None and device_id:
        scope.device_id = device_id


def event_scope_risk(risk: dict[str, Any]) -> None:
    """Events recorded from now on in this scope carry ``details["risk"]`` (a
    copy of ``risk`` as it is at each event, so later additions show on later
    events only)."""
    scope = _scope.get()
    if scope is not None:
        scope.risk = risk


def event_scope_device_subject(device: str | None) -> None:
    """The device the current request comes from, as the gate counts it (``None``: not known)."""
    scope = _scope.get()
    if scope is not None:
        scope.device_subject = device


def event_scope_current() -> EventScope | None:
    """The current request's scope, if any (for listeners: the device subject)."""
    return _scope.get()


def _without_nul(value: Any) -> Any:
    """``value`` with NUL characters removed from every string in it.

    Details quote what clients sent (an Origin, a parameter name), and
    PostgreSQL refuses NUL in text and JSON: the event must still be written.
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(str(k)): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


# --- Bounded writes: add repeated denials up, write them as counted rows ----

_AggregateKey = tuple[str, str, str, str | None, int | None, str]


@dataclass
class _Pending:
    event: SecurityEvent
    count: int = 0


@dataclass
class _DenialWriter:
    """Per-process write budget and the denials waiting for the next flush."""

    clock: Callable[[], float] = time.monotonic
    pending: dict[_AggregateKey, _Pending] = field(default_factory=dict)
    budget_second: int = -1
    budget_used: int = 0
    pending_since: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, key: _AggregateKey, event: SecurityEvent) -> bool:
        """True: write ``event`` now. False: it was added to a pending row."""
        now = self.clock()
        with self.lock:
            second = int(now)
            if second != self.budget_second:
                self.budget_second, self.budget_used = second, 0
            if self.budget_used < int(gatehouse_settings.EVENTS_MAX_WRITES_PER_SECOND):
                self.budget_used += 1
                return True
            entry = self.pending.get(key)
            if entry is None:
                if not self.pending:
                    self.pending_since = now
                entry = self.pending[key] = _Pending(event)
            entry.count += 1
            return False

    def due(self) -> bool:
        interval = float(gatehouse_settings.EVENTS_FLUSH_INTERVAL)
        return bool(self.pending) and self.clock() - self.pending_since >= interval

    def take(self) -> list[SecurityEvent]:
        """The pending rows to write (bounded), with their counts; clears them."""
        with self.lock:
            pending, self.pending = self.pending, {}
        limit = max(1, int(gatehouse_settings.EVENTS_FLUSH_MAX_ROWS))
        entries = sorted(pending.values(), key=lambda entry: -entry.count)
        rows = []
        for entry in entries[: limit - 1] if len(entries) > limit else entries:
            entry.event.count = entry.count
            rows.append(entry.event)
        if len(entries) > limit:
            rows += _merged(entries[limit - 1 :])
        return rows

    def reset(self) -> None:
        with self.lock:
            self.pending.clear()
            self.budget_second, self.budget_used, self.pending_since = -1, 0, 0.0


def _merged(entries: list[_Pending]) -> list[SecurityEvent]:
    """The overflow of a flush: one row per kind and reason, clients counted."""
    merged: dict[tuple[str, str], SecurityEvent] = {}
    clients: dict[tuple[str, str], set] = {}
    for entry in entries:
        key = (entry.event.kind, entry.event.reason)
        row = merged.get(key)
        if row is None:
            row = merged[key] = SecurityEvent(
                kind=entry.event.kind,
                decision=entry.event.decision,
                reason=entry.event.reason,
                created_at=entry.event.created_at,
                count=0,
                details={"merged": True},
            )
            clients[key] = set()
        row.count += entry.count
        clients[key].add(entry.event.client_ip)
    for key, row in merged.items():
        row.details["clients"] = len(clients[key])
    return list(merged.values())


denial_writer = _DenialWriter()
process_state_register("pending denials", denial_writer.reset)


def events_flush() -> int:
    """Write the denials added up so far as counted rows; return how many rows."""
    rows = denial_writer.take()
    if not rows:
        return 0
    try:
        SecurityEvent.objects.bulk_create(rows)
    except Exception:  # the audit log must not turn a request into a 500
        total = sum(row.count for row in rows)
        logger.exception("Could not write %s aggregated security events", total)
        return 0
    return len(rows)


def events_flush_if_due() -> None:
    """Flush when the interval has passed (called at the end of each request)."""
    if denial_writer.due():
        events_flush()


def event_record(
    *,
    kind: str,
    decision: str,
    reason: str = "",
    client_ip: str | None = None,
    api_key: Any = None,
    session_id: Any = None,
    path: str | None = None,
    details: dict[str, Any] | None = None,
    bounded: bool = False,
) -> SecurityEvent:
    """Record one event and tell the listeners; return it (unsaved while aggregated).

    ``client_ip`` and ``path`` default to the current ``event_scope``. A
    ``kind`` must be declared (``protection.core.events.kinds``). Denials go
    through the write budget; so does any event with ``bounded`` (an alert
    that a client can repeat at will, such as a login lockout).
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"Undeclared event kind {kind!r}: declare it with event_kinds_register")
    scope = _scope.get()
    if scope is not None:
        client_ip = client_ip or scope.client_ip
        path = path if path is not None else scope.path
        if scope.network is not None and details is not None and "network" not in details:
            details = {**details, "network": scope.network}
        elif scope.network is not None and details is None:
            details = {"network": scope.network}
        if scope.device_id and decision == "deny" and "device_id" not in (details or {}):
            details = {**(details or {}), "device_id": scope.device_id, "device_verified": True}
        if scope.risk is not None and "risk" not in (details or {}):
            details = {**(details or {}), "risk": dict(scope.risk)}
    event = SecurityEvent(
        kind=kind,
        decision=decision,
        reason=reason,
        client_ip=client_ip,
        api_key=api_key,
        session_id=session_id,
        path=_without_nul(path or "")[:200],
        details=_without_nul(details or {}),
        created_at=timezone.now(),
    )
    write_now = True
    # Denials and what dry-run rules would have denied come in floods; other
    # alerts are rare (and rate-limited where they are raised).
    if bounded or decision == SecurityEvent.Decision.DENY or event.details.get("dry_run"):
        key = (kind, reason, event.path, client_ip, getattr(api_key, "pk", None), str(session_id))
        write_now = denial_writer.admit(key, event)
    if write_now:
        event.save()
    logger.info(
        "security event kind=%s decision=%s reason=%s",
        kind,
        decision,
        reason,
        # Fields of the JSON log line (protection.logcontext fills what is not given).
        extra={
            "event_kind": kind,
            "event_decision": decision,
            "event_reason": reason,
            "api_key": getattr(api_key, "public_id", None),
            "session_id": str(session_id) if session_id else None,
        },
    )
    event_recorded.send(sender=SecurityEvent, event=event)
    if denial_writer.due():
        events_flush()
    return event


def events_purge_old(*, now: datetime.datetime | None = None) -> int:
    """Delete events older than ``EVENTS_RETENTION`` seconds; return how many."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=int(gatehouse_settings.EVENTS_RETENTION))
    deleted, _ = SecurityEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
