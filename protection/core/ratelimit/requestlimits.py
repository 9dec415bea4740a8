"""The limits of one request, counted in one round trip.

A ``RequestLimits`` is a plain value the gate builds per request (it lives
in the request context): the per-IP, per-key and per-session entries of the
view's endpoint group, added as they become known. ``request_limits_count``
counts all of them in one call (one Redis round trip), together with the
request's claims (a DPoP proof's jti), the counts reactions deferred
(``deferred``), an endpoint's own counters (``extra``) and the cache keys the
request must read (``reads``), and returns what it read and counted. It
judges nothing: the gate does (``rate_limit_refusal`` builds the 429 of the
group limits, ``observed_dimensions`` says which of them only observe).

What is counted, in this order: the client's own group limits (per IP, per
session), the claims and the deferred counts: always, even when one
refuses. Then the budgets shared by clients who do not control each other
(the key-wide limits) that are enforced, then ``extra`` (it stops at its
first refusal), then the shared budgets that only observe. Nothing after
the first part is counted once anything refused: a request refused for its
own fault (over its IP's or its session's limit, a replayed proof) spends
no budget shared with others, and a shared limit that only observes never
stops the endpoint's own counters.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from protection.base.exceptions import ProtectionError
from protection.conf import gatehouse_settings
from protection.core.ratelimit.counters import (
    Claim,
    Hit,
    Item,
    RateLimitResult,
    rate_limit_hit_many,
    rate_limit_read_and_hit,
)
from protection.core.ratelimit.deferred import deferred_items, deferred_settle, deferred_take
from protection.core.ratelimit.headers import CountedLimit, ratelimit_headers

# Budgets shared by every client of a key: whoever holds a copied publishable
# key could spend them for everyone (docs/hardening.md, "Shared budgets").
SHARED_DIMENSIONS = frozenset({"key"})


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

    def add(self, *, dimension: str, ident: str, rates: Sequence[str]) -> None:
        if rates and dimension not in {entry.dimension for entry in self.pending}:
            self.pending.append(LimitEntry(self.group, dimension, ident, tuple(rates)))


@dataclass(frozen=True)
class Counted:
    """What one round trip read and counted."""

    values: dict[str, bytes | None]  # each key read: b"" when absent, None if unreadable
    claims: list[RateLimitResult]  # one per claim, in order
    extra: list[RateLimitResult]  # the extra counters counted, in order (may stop early)
    group: list[CountedLimit]  # this call's group limits


def _expand(entries: Sequence[LimitEntry]) -> list[tuple[str, str]]:
    return [(entry.dimension, rate) for entry in entries for rate in entry.rates]


def _hits(entries: Sequence[LimitEntry]) -> list[Hit]:
    return [
        Hit(f"{entry.group}:{entry.dimension}", entry.ident, rate)
        for entry in entries
        for rate in entry.rates
    ]


def request_limits_count(
    limits: RequestLimits | None,
    *,
    extra: Sequence[Item] = (),
    claims: Sequence[Claim] = (),
    reads: Sequence[str] = (),
) -> Counted:
    """Count ``limits``' pending entries, ``claims``, deferred counts and ``extra``,
    and read ``reads``: one round trip. The pending entries move to ``counted``.

    ``limits`` may be None (a service called outside a request). Raises
    ``service_unavailable`` when a quota or claim cannot reach the cache.
    """
    entries: list[LimitEntry] = []
    if limits is not None:
        entries, limits.pending = limits.pending, []
    observed = observed_dimensions(limits.group) if limits is not None else set()
    own = [entry for entry in entries if entry.dimension not in SHARED_DIMENSIONS]
    shared = [entry for entry in entries if entry.dimension in SHARED_DIMENSIONS]
    enforced = [entry for entry in shared if entry.dimension not in observed]
    watched = [entry for entry in shared if entry.dimension in observed]
    deferred = deferred_take()
    prefix: list[Item] = [*_hits(own), *claims, *deferred_items(deferred)]
    items = [*prefix, *_hits(enforced), *extra, *_hits(watched)]
    values, results = rate_limit_read_and_hit(
        items, reads=reads, stop_at_refusal=True, always_count=len(prefix)
    )
    own_count, claim_end = len(_expand(own)), len(_expand(own)) + len(claims)
    enforced_start = len(prefix)
    extra_start = enforced_start + len(_expand(enforced))
    watched_start = extra_start + len(extra)
    group = [
        *_counted(own, results[:own_count]),
        *_counted(enforced, results[enforced_start:extra_start]),
        *_counted(watched, results[watched_start:]),
    ]
    if limits is not None:
        limits.counted.extend(group)
    deferred_settle(deferred, results[claim_end : len(prefix)])
    return Counted(
        values=dict(zip(reads, values, strict=True)),
        claims=results[own_count:claim_end],
        extra=results[extra_start:watched_start],
        group=group,
    )


def _counted(
    entries: Sequence[LimitEntry], results: Sequence[RateLimitResult]
) -> list[CountedLimit]:
    return [
        CountedLimit(dimension, rate, result)
        for (dimension, rate), result in zip(_expand(entries), results, strict=False)
    ]


def observed_dimensions(group: str) -> set[str]:
    """Dimensions of ``group`` whose limits only observe (``RATE_LIMITS_OBSERVE``)."""
    observed: set[str] = set()
    for entry in gatehouse_settings.RATE_LIMITS_OBSERVE:
        name, _, dimension = str(entry).partition(":")
        if name == group:
            observed |= {dimension} if dimension else {"ip", "key", "session"}
    return observed


def rate_limit_refusal(counted: Sequence[CountedLimit]) -> ProtectionError | None:
    """Return the 429 error for ``counted`` if any limit is exceeded, else None."""
    refused = [item.result for item in counted if not item.result.allowed]
    if not refused:
        return None
    wait = max(result.reset_after for result in refused)
    headers = {"Retry-After": str(math.ceil(wait)), **ratelimit_headers(counted)}
    return ProtectionError("rate_limited", headers=headers)


def rate_limit_reason(group: str, dimensions: Sequence[str]) -> str:
    """The reason of a group limit's refusal event: ``<group>:<dimensions>``."""
    return f"{group}:{','.join(sorted(set(dimensions)))}"[:64]


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
