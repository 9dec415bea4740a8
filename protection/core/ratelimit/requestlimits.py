"""The limits of one request, counted in one round trip.

A ``RequestLimits`` is a plain value the HTTP edge builds per request (it
lives in ``protection.http.context``) and hands to whoever counts: the edge
adds the per-IP, per-key and per-session entries of the view's group as
they become known, and ``request_limits_count`` counts all of them, plus a
service's own counters (``extra``) and the cache keys the request must read
(``reads``), in one call: one Redis round trip.

Order of decisions after that round trip: ``after_count`` (the edge's hook:
block-list version, session revocation state; it may raise), then the
group limits (429 ``rate_limited`` and its event; a limit in observe mode,
``RATE_LIMITS_OBSERVE``, records an alert instead), then ``extra``, which
the caller judges from the returned results. Every window of the group limits
is counted even when one refuses; ``extra`` stops at its first refusal and
is not counted at all once a group limit refuses.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from protection.base.exceptions import ProtectionError
from protection.conf import gatehouse_settings
from protection.core.events import event_record
from protection.core.ratelimit.counters import (
    Hit,
    Quota,
    RateLimitResult,
    rate_limit_hit_many,
    rate_limit_read_and_hit,
)
from protection.core.ratelimit.headers import CountedLimit, ratelimit_headers


@dataclass(frozen=True)
class LimitEntry:
    """Every rate of one dimension of a group, for one identity."""

    group: str
    dimension: str
    ident: str
    rates: Sequence[str]


@dataclass
class RequestLimits:
    """What one request must count (``pending``) and has counted (``counted``)."""

    group: str = ""
    pending: list[LimitEntry] = field(default_factory=list)
    counted: list[CountedLimit] = field(default_factory=list)
    # Cache keys to read in the same round trip, and the edge's hook that
    # judges what was read ({key: raw value, or None if the cache failed}).
    reads: list[str] = field(default_factory=list)
    after_count: Callable[[dict[str, bytes | None]], None] | None = None
    # Named in the 429 event.
    api_key: Any = None
    session_id: Any = None

    def add(self, *, dimension: str, ident: str, rates: Sequence[str]) -> None:
        if rates and dimension not in {entry.dimension for entry in self.pending}:
            self.pending.append(LimitEntry(self.group, dimension, ident, tuple(rates)))


def _expand(entries: Sequence[LimitEntry]) -> list[tuple[str, str]]:
    return [(entry.dimension, rate) for entry in entries for rate in entry.rates]


def _hits(entries: Sequence[LimitEntry]) -> list[Hit]:
    return [
        Hit(f"{entry.group}:{entry.dimension}", entry.ident, rate)
        for entry in entries
        for rate in entry.rates
    ]


def request_limits_count(
    limits: "RequestLimits | None", extra: Sequence[Hit | Quota] = ()
) -> list[RateLimitResult]:
    """Count ``limits``' pending entries and reads, then ``extra``: one round trip.

    Raises what ``after_count`` raises, then 429 ``rate_limited`` (recording
    its event) when a group limit refuses. Returns the results of ``extra``
    that were counted. ``limits`` may be None (a service called outside a
    request): then only ``extra`` counts.
    """
    if limits is None or (not limits.pending and not limits.reads):
        return rate_limit_hit_many(extra, stop_at_refusal=True)
    entries, limits.pending = limits.pending, []
    reads, limits.reads = limits.reads, []
    hits = _hits(entries)
    try:
        values, results = rate_limit_read_and_hit(
            [*hits, *extra], reads=reads, stop_at_refusal=True, always_count=len(hits)
        )
    except ProtectionError:  # 503: a quota cannot be kept without the cache
        if limits.after_count is not None and reads:
            # Still judge what the request needed to read (from the database):
            # a revoked session is 401, not "come back later".
            limits.after_count(dict.fromkeys(reads))
        raise
    limits.counted.extend(
        CountedLimit(dimension, rate, result)
        for (dimension, rate), result in zip(_expand(entries), results, strict=False)
    )
    if limits.after_count is not None and reads:
        limits.after_count(dict(zip(reads, values, strict=True)))
    observed = _observed(limits.group)
    dry_run = sorted(
        {item.dimension for item in limits.counted if not item.result.allowed} & observed
    )
    if dry_run:
        _record_dry_run(limits, dry_run)
    error = rate_limit_refusal([item for item in limits.counted if item.dimension not in observed])
    if error is not None:
        rate_limit_record_refusal(
            group=limits.group,
            dimensions=[item.dimension for item in limits.counted if not item.result.allowed],
            api_key=limits.api_key,
            session_id=limits.session_id,
        )
        raise error
    return results[len(hits) :]


def _observed(group: str) -> set[str]:
    """Dimensions of ``group`` in observe mode (``RATE_LIMITS_OBSERVE``)."""
    observed: set[str] = set()
    for entry in gatehouse_settings.RATE_LIMITS_OBSERVE:
        name, _, dimension = str(entry).partition(":")
        if name == group:
            observed |= {dimension} if dimension else {"ip", "key", "session"}
    return observed


def _record_dry_run(limits: RequestLimits, dimensions: Sequence[str]) -> None:
    event_record(
        kind="rate_limited",
        decision="alert",
        reason=f"{limits.group}:{','.join(dimensions)}"[:64],
        api_key=limits.api_key,
        session_id=limits.session_id,
        details={"group": limits.group, "dimensions": list(dimensions), "dry_run": True},
    )


def rate_limit_refusal(counted: Sequence[CountedLimit]) -> ProtectionError | None:
    """Return the 429 error for ``counted`` if any limit is exceeded, else None."""
    refused = [item.result for item in counted if not item.result.allowed]
    if not refused:
        return None
    wait = max(result.reset_after for result in refused)
    headers = {"Retry-After": str(math.ceil(wait)), **ratelimit_headers(counted)}
    return ProtectionError("rate_limited", headers=headers)


def rate_limit_record_refusal(
    *,
    group: str,
    dimensions: Sequence[str],
    api_key: Any = None,
    session_id: Any = None,
) -> None:
    """Write the ``rate_limited`` deny event (automatic blocking listens to it)."""
    dimensions = sorted(set(dimensions))
    event_record(
        kind="rate_limited",
        decision="deny",
        reason=f"{group}:{','.join(dimensions)}"[:64],
        api_key=api_key,
        session_id=session_id,
        details={"group": group, "dimensions": dimensions},
    )


def rate_limit_count_many(
    entries: Sequence[tuple[str, str, str, Sequence[str]]],
) -> list[CountedLimit]:
    """Count ``(group, dimension, ident, rates)`` entries: one hit per rate, one round trip."""
    limit_entries = [LimitEntry(*entry) for entry in entries]
    results = rate_limit_hit_many(_hits(limit_entries))
    return [
        CountedLimit(dimension, rate, result)
        for (dimension, rate), result in zip(_expand(limit_entries), results, strict=True)
    ]


def rate_limit_enforce(*, group: str, ident: str, rates: Sequence[str]) -> None:
    """Count a hit against every rate; raise ``rate_limited`` if any is exceeded."""
    results = rate_limit_hit_many([Hit(group, ident, rate) for rate in rates])
    counted = [
        CountedLimit("limit", rate, result) for rate, result in zip(rates, results, strict=True)
    ]
    error = rate_limit_refusal(counted)
    if error is not None:
        raise error
