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

What is counted, in this order: the refunds, the claims, the client's own
group limits (per IP, per session) and the deferred counts: always, even
when one refuses. Then the budgets shared by clients who do not control
each other (``SHARED_DIMENSIONS``: key-wide, per AS) that are enforced,
then ``extra`` (it stops at its first refusal), then the shared budgets
that only observe (``RATE_LIMITS_OBSERVE``: counted, never refusing, never
stopping anything). Nothing after the first part is counted once anything
refused: a request refused for its own fault (over its IP's or its
session's limit, a replayed proof) spends no budget shared with others.

Some dimensions count what succeeded, not attempts (``on_success``: the
identity dimensions, ``mailbox``, ``device``…): they are counted last, with
a conditional increment (never past the limit, so a refused request spends
none of them and N concurrent requests with room for k admit exactly k),
and only when nothing before them refused. What they counted is kept in
``RequestLimits.refunds``; the gate takes it back on the way out when the
request did not succeed (``request_limits_count(refunds=...)``: the refund
rides that round trip).
"""

import functools
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
    Refund,
    rate_limit_hit_many,
    rate_limit_read_and_hit,
    rate_limit_refund_locally,
)
from protection.core.ratelimit.deferred import deferred_items, deferred_settle, deferred_take
from protection.core.ratelimit.headers import CountedLimit, ratelimit_headers
from protection.core.ratelimit.rates import ALL_DIMENSIONS, PRIVATE_DIMENSIONS

# Budgets shared by clients who do not control each other: every client of a
# key (whoever holds a copied publishable key could spend it for everyone) and
# every client of an AS (docs/hardening.md, "Shared budgets").
SHARED_DIMENSIONS = frozenset({"key", "asn"})


@dataclass(frozen=True)
class LimitEntry:
    """Every rate of one dimension of a group, for one identity.

    ``observe``: counted, never refusing (``RATE_LIMITS_OBSERVE``);
    ``on_success``: counts what succeeded (refunded when the request fails).
    """

    group: str
    dimension: str
    ident: str
    rates: Sequence[str]
    observe: bool = False
    on_success: bool = False


@dataclass
class RequestLimits:
    """What one request must count (``pending``), has counted (``counted``) and
    would take back if it fails (``refunds``)."""

    group: str = ""
    pending: list[LimitEntry] = field(default_factory=list)
    counted: list[CountedLimit] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)

    def add(
        self, *, dimension: str, ident: str, rates: Sequence[str], on_success: bool = False
    ) -> None:
        if rates and dimension not in {entry.dimension for entry in self.pending}:
            observe = dimension in observed_dimensions(self.group)
            entry = LimitEntry(self.group, dimension, ident, tuple(rates), observe, on_success)
            self.pending.append(entry)

    def refunds_take(self) -> list[Refund]:
        """What the request counted on success, to take back (once)."""
        taken, self.refunds = self.refunds, []
        return taken


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
    # An on-success limit that only observes counts every success, over its
    # limit too (a plain increment): what it would refuse is then visible.
    return [
        Hit(
            f"{entry.group}:{entry.dimension}",
            entry.ident,
            rate,
            conditional=entry.on_success and not entry.observe,
            stops=not entry.observe,
        )
        for entry in entries
        for rate in entry.rates
    ]


def _counted(
    entries: Sequence[LimitEntry], results: Sequence[RateLimitResult]
) -> list[CountedLimit]:
    expanded = [(entry, rate) for entry in entries for rate in entry.rates]
    return [
        CountedLimit(
            entry.dimension, rate, result, entry.dimension in PRIVATE_DIMENSIONS, entry.observe
        )
        for (entry, rate), result in zip(expanded, results, strict=False)
    ]


def _spent(entries: Sequence[LimitEntry], results: Sequence[RateLimitResult]) -> list[Refund]:
    """The refunds of what on-success ``entries`` counted (a refused conditional
    hit counted nothing)."""
    refunds = []
    for hit, result in zip(_hits(entries), results, strict=False):
        if result.window and (result.allowed or not hit.conditional):
            refunds.append(Refund(hit, result.window, result.local))
    return refunds


def request_limits_count(
    limits: RequestLimits | None,
    *,
    extra: Sequence[Item] = (),
    claims: Sequence[Claim] = (),
    reads: Sequence[str] = (),
    refunds: Sequence[Refund] = (),
) -> Counted:
    """Take back ``refunds``, count ``limits``' pending entries, ``claims``, deferred
    counts and ``extra``, then the on-success entries, and read ``reads``: one
    round trip. The pending entries move to ``counted``; what the on-success
    ones counted is added to ``limits.refunds``.

    ``limits`` may be None (a service called outside a request). Raises
    ``service_unavailable`` when a quota or claim cannot reach the cache.
    """
    entries: list[LimitEntry] = []
    if limits is not None:
        entries, limits.pending = limits.pending, []
    attempts = [entry for entry in entries if not entry.on_success]
    successes = [entry for entry in entries if entry.on_success]
    own = [entry for entry in attempts if entry.dimension not in SHARED_DIMENSIONS]
    shared = [entry for entry in attempts if entry.dimension in SHARED_DIMENSIONS]
    enforced = [entry for entry in shared if not entry.observe]
    watched = [entry for entry in shared if entry.observe]
    shared_refunds = []
    for refund in refunds:  # a fallback counter's refund needs no round trip
        if refund.local:
            rate_limit_refund_locally(refund)
        else:
            shared_refunds.append(refund)
    deferred = deferred_take()
    own_hits, later = _hits(own), deferred_items(deferred)
    prefix: list[Item] = [*shared_refunds, *claims, *own_hits, *later]
    items = [*prefix, *_hits(enforced), *extra, *_hits(watched), *_hits(successes)]
    values: list[bytes | None] = []
    results: list[RateLimitResult] = []
    if items or reads:  # (only local refunds: no round trip)
        values, results = rate_limit_read_and_hit(
            items, reads=reads, stop_at_refusal=True, always_count=len(prefix)
        )
    results = results[len(shared_refunds) :]
    own_start = len(claims)
    later_start = own_start + len(own_hits)
    enforced_start = later_start + len(later)
    extra_start = enforced_start + len(_expand(enforced))
    watched_start = extra_start + len(extra)
    success_start = watched_start + len(_expand(watched))
    group = [
        *_counted(own, results[own_start:later_start]),
        *_counted(enforced, results[enforced_start:extra_start]),
        *_counted(watched, results[watched_start:success_start]),
        *_counted(successes, results[success_start:]),
    ]
    if limits is not None:
        limits.counted.extend(group)
        limits.refunds.extend(_spent(successes, results[success_start:]))
    deferred_settle(deferred, results[later_start:enforced_start])
    return Counted(
        values=dict(zip(reads, values, strict=True)),
        claims=results[:own_start],
        extra=results[extra_start:watched_start],
        group=group,
    )


def observed_dimensions(group: str) -> frozenset[str]:
    """Dimensions of ``group`` whose limits only observe (``RATE_LIMITS_OBSERVE``)."""
    return _observed(group, tuple(gatehouse_settings.RATE_LIMITS_OBSERVE))


@functools.lru_cache(maxsize=64)
def _observed(group: str, entries: tuple[str, ...]) -> frozenset[str]:
    # Memoised on the entries themselves: asked twice a request, the list rarely changes.
    observed: set[str] = set()
    for entry in entries:
        name, _, dimension = str(entry).partition(":")
        if name == group:
            observed |= {dimension} if dimension else set(ALL_DIMENSIONS)
    return frozenset(observed)


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
