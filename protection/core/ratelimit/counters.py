"""Atomic counters in the shared cache, with a per-process fallback when it fails.

Every windowed counter lives in django-ratelimit's bucket for it (its
``_make_cache_key`` and ``_get_window``, reached only through ``upstream``:
fixed windows with per-key jitter, TTL period + ``EXPIRATION_FUDGE``). How a
hit is counted depends on the cache:

- Redis, in any topology (production): all counters handed to
  ``rate_limit_hit_many`` in one Lua script call (``protection.core.ratelimit.
  batch``; on a Redis Cluster one script per hash slot in one pipeline,
  ``slots``): one round trip instead of ``get_usage``'s three per counter,
  atomic on the server, so N workers on M hosts still admit exactly
  ``limit`` hits per window. ``RATE_LIMIT_BATCH = False`` goes back to
  ``get_usage``; both read and write the same keys. Not on a cluster: there
  a bucket's name carries its owner's hash tag (``Hit.ident``,
  ``protection.core.keyspace``), which ``get_usage`` cannot name.
- any other cache (the local-memory default of the embedded mode):
  django-ratelimit's ``get_usage`` with ``increment``, one counter at a time.

Counter keys are keyed digests of group and identity: bounded, opaque, and
an empty identity gets its own bucket (never one shared with real
identities). A ``Quota`` is an exact counter with a fixed lifetime instead
of a window (e.g. a session's whole life); it has no local fallback.

When the cache raises or times out, ``RATE_LIMIT_CACHE_FAILURE`` decides:
``"local"`` counts in this process with the same rates and windows (strict
per process; the whole deployment may admit up to workers x limit) and
records one ``cache_unavailable`` alert per process per minute; ``"closed"``
refuses with 503 ``service_unavailable``. After a failure the cache is left
alone for ``RATE_LIMIT_CACHE_RETRY_AFTER`` seconds (``fallback``).

Longer than ~300 lines on purpose: every kind of counter (hit, quota,
conditional hit, refund, claim, tally) has a cache path and a local one
that must agree exactly, and they are easiest to compare side by side.
"""

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache

from protection.base import crypto
from protection.base.exceptions import ProtectionError
from protection.conf import gatehouse_settings
from protection.core.cachehealth import shared_cache_call
from protection.core.keyspace import owned_key
from protection.core.ratelimit import fallback
from protection.core.ratelimit.batch import Step, batch_available, redis_cache, redis_count
from protection.core.ratelimit.fallback import cache_failed, cache_health, local_counters
from protection.core.ratelimit.rates import rate_parse
from protection.core.ratelimit.upstream import (
    TTL_FUDGE,
    bucket_cache_key,
    bucket_window_end,
    get_usage,
)
from protection.core.rediscache import raw_redis

__all__ = [
    "Claim",
    "Hit",
    "Item",
    "Quota",
    "Refund",
    "Tally",
    "RateLimitResult",
    "cache_failed",
    "cache_health",
    "counter_ident",
    "local_counters",
    "rate_limit_distinct_hit",
    "rate_limit_hit",
    "rate_limit_hit_many",
    "rate_limit_read_and_hit",
    "rate_limit_refund_locally",
]


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the current window ends
    period: int = 0  # window length in seconds
    count: int = 0  # hits counted in this window, this one included
    # Where a windowed hit was counted, for its refund: the window's end (Unix
    # time; 0 for quotas, claims and tallies) and whether this process's
    # fallback counters counted it (the shared cache was down).
    window: int = 0
    local: bool = False


def counter_ident(group: str, ident: Any) -> str:
    """Keyed digest naming the bucket of ``ident`` in ``group`` (bounded, opaque).

    Length-prefixed so no (group, ident) pair can be spelled as another; an
    empty identity maps to its own "empty" bucket per group.
    """
    text = "" if ident is None else str(ident)
    return _counter_ident(group, text, gatehouse_settings.SIGNING_KEY)


@functools.lru_cache(maxsize=8192)
def _counter_ident(group: str, text: str, signing_key: str) -> str:
    # Memoised (a lookup names eight buckets, mostly the same ones as the
    # caller's previous request); keyed on the signing key, so a new one
    # still takes effect at once.
    tagged = f"{len(group)}:{group}|" + ("E|" if text == "" else "V|" + text)
    return crypto.keyed_digest(tagged, purpose="ratelimit")


def _fallback(
    bucket: str, rate: str, increment: bool, *, conditional: bool = False
) -> RateLimitResult:
    if gatehouse_settings.RATE_LIMIT_CACHE_FAILURE == "closed":
        raise ProtectionError("service_unavailable", headers={"Retry-After": "5"})
    limit, period = rate_parse(rate)
    count, time_left, window = local_counters.hit(
        bucket, rate, increment, fallback.clock(), conditional=conditional
    )
    return RateLimitResult(
        allowed=count <= limit,
        limit=limit,
        remaining=max(0, limit - count),
        reset_after=max(1, time_left),
        period=period,
        count=count,
        window=window,
        local=True,
    )


class Hit(NamedTuple):
    """One hit of ``ident`` in ``group`` against ``rate`` (``increment=False``: peek).

    With ``member`` it is a distinct counter: ``member`` counts once per
    window among the members seen for ``ident`` (group ``<group>:distinct``).
    ``conditional``: it counts only while the count stays within the limit;
    over it, the result reads limit + 1 and nothing is counted (atomic: N
    concurrent hits on a bucket with room for k admit exactly k). What it
    counted can be taken back with a ``Refund``. ``stops=False``: its
    refusal does not stop the counting of the items after it (a limit that
    only observes).
    """

    group: str
    ident: str
    rate: str
    member: str | None = None
    increment: bool = True
    conditional: bool = False
    stops: bool = True


class Refund(NamedTuple):
    """Take back one hit of ``hit`` (a plain, non-distinct hit) counted in the
    window ending at ``window``: a DECR of that bucket, never below 0, and
    nothing once the window has ended. Never refuses. ``local``: the hit was
    counted by this process's fallback counters (``RateLimitResult.local``);
    ``rate_limit_refund_locally`` takes it back, without a round trip."""

    hit: Hit
    window: int
    local: bool = False


class Quota(NamedTuple):
    """An exact counter: at most ``limit`` hits on cache ``key`` for ``ttl`` seconds.

    With ``member`` it counts distinct members: the same member again (a
    retry carrying the same Idempotency-Key) does not count twice.
    """

    key: str
    limit: int
    ttl: int
    member: str | None = None


def _quota_member_key(quota: Quota) -> str:
    # In the quota's own hash slot (its tag, on a Redis Cluster): one script counts both.
    name = "gh:quota:m:" + crypto.keyed_digest(f"{quota.key}|{quota.member}", purpose="ratelimit")
    start = quota.key.find("{")
    return name + quota.key[start : quota.key.index("}", start) + 1] if start >= 0 else name


class Tally(NamedTuple):
    """A plain counter on cache ``key`` (expiring ``ttl`` seconds after its first
    hit) that never refuses: reputation's denial counts. Skipped, never an
    error, when the cache is down (its result then counts 0)."""

    key: str
    ttl: int


class Claim(NamedTuple):
    """First use of cache ``key`` for ``ttl`` seconds (a replay store: a nonce, a
    proof's ``jti``). Its result is allowed only for the call that claimed it."""

    key: str
    ttl: int


# What one round trip counts.
Item = Hit | Quota | Claim | Tally | Refund
TALLY_LIMIT = 2**31


def _bucket(hit: Hit) -> tuple[str, str]:
    """(group as counted, bucket) of a hit: distinct counters have their own group."""
    group = hit.group if hit.member is None else f"{hit.group}:distinct"
    return group, counter_ident(group, hit.ident)


def _member_key(hit: Hit) -> str:
    seen = f"{counter_ident(hit.group, hit.ident)}|{hit.member}|{hit.rate}"
    return "gh:distinct:" + crypto.keyed_digest(seen, purpose="ratelimit")


def _result(
    count: int, limit: int, period: int, reset_after: int, window: int = 0
) -> RateLimitResult:
    return RateLimitResult(
        allowed=count <= limit,
        limit=limit,
        remaining=max(0, limit - count),
        reset_after=max(1, reset_after),
        period=period,
        count=count,
        window=window,
    )


def _bucket_key(hit: Hit, window: int) -> str:
    """The cache key of ``hit``'s bucket in the window ending at ``window`` (no tag)."""
    group, bucket = _bucket(hit)
    return bucket_cache_key(group, window, hit.rate, bucket)


def _shared_usage(group: str, bucket: str, rate: str, increment: bool) -> dict | None:
    usage = get_usage(
        None, group=group, key=lambda _group, _request: bucket, rate=rate, increment=increment
    )
    if usage is not None and usage["time_left"] == -1 and usage["count"] == 0:
        # INCR lost a race with the window's expiry: the next call ADDs afresh.
        usage = get_usage(
            None, group=group, key=lambda _group, _request: bucket, rate=rate, increment=increment
        )
    return usage


def _quota_unavailable(error: Exception) -> ProtectionError:
    cache_failed(error)
    return ProtectionError("service_unavailable", headers={"Retry-After": "5"})


def _quota_via_cache(quota: Quota) -> RateLimitResult:
    # No local fallback: a per-process quota would multiply a session's quota.
    if cache_health.is_down(time.monotonic()):
        raise ProtectionError("service_unavailable", headers={"Retry-After": "5"})
    try:
        cache.add(quota.key, 0, timeout=quota.ttl)
        if quota.member is not None and not cache.add(
            _quota_member_key(quota), 1, timeout=quota.ttl
        ):
            count = cache.get(quota.key) or 0  # this member counted already
        else:
            try:
                count = cache.incr(quota.key)
            except ValueError:  # evicted between add and incr
                cache.add(quota.key, 1, timeout=quota.ttl)
                count = 1
    except Exception as exc:
        raise _quota_unavailable(exc) from exc
    return _result(int(count), quota.limit, quota.ttl, quota.ttl)


def _conditional_via_cache(hit: Hit) -> RateLimitResult:
    """A conditional hit without the script: INCR, and DECR again when over.

    Never admits beyond the limit (each INCR's answer is unique); a hit over
    it reads one high until its DECR lands, so a concurrent one may be
    refused a moment early (the strict side).
    """
    limit, period = rate_parse(hit.rate)
    _group, bucket = _bucket(hit)
    if cache_health.is_down(time.monotonic()):
        return _fallback(bucket, hit.rate, True, conditional=True)
    window = bucket_window_end(bucket, period)
    key = _bucket_key(hit, window)
    try:
        cache.add(key, 0, timeout=period + TTL_FUDGE)
        count = int(cache.incr(key))
        if count > limit:
            cache.decr(key)
            count = limit + 1
    except Exception as exc:  # any cache client error: connection, timeout, protocol
        cache_failed(exc)
        return _fallback(bucket, hit.rate, True, conditional=True)
    return _result(count, limit, period, window - int(time.time()), window)


def _refund_via_cache(refund: Refund) -> RateLimitResult:
    limit, period = rate_parse(refund.hit.rate)
    key = _bucket_key(refund.hit, refund.window)

    def take_back() -> int:
        count = int(cache.get(key) or 0)
        return int(cache.decr(key)) if count > 0 else count

    return _result(shared_cache_call(take_back, 0), TALLY_LIMIT, period, period)


def rate_limit_refund_locally(refund: Refund) -> None:
    """Take back a hit this process's fallback counters counted (no I/O)."""
    _group, bucket = _bucket(refund.hit)
    local_counters.refund(bucket, refund.hit.rate, refund.window)


def _hit_via_get_usage(hit: Hit) -> RateLimitResult:
    if hit.conditional and getattr(settings, "RATELIMIT_ENABLE", True):
        return _conditional_via_cache(hit)
    limit, period = rate_parse(hit.rate)
    group, bucket = _bucket(hit)
    # A distinct member that cannot be checked counts as new (the strict side).
    fallback_increment = hit.increment or hit.member is not None
    if cache_health.is_down(time.monotonic()):
        return _fallback(bucket, hit.rate, fallback_increment)
    try:
        increment = hit.increment
        if hit.member is not None:
            increment = cache.add(_member_key(hit), 1, timeout=period)
        usage = _shared_usage(group, bucket, hit.rate, increment)
    except Exception as exc:  # any cache client error: connection, timeout, protocol
        cache_failed(exc)
        return _fallback(bucket, hit.rate, fallback_increment)
    if usage is None:  # rate limiting disabled (RATELIMIT_ENABLE=False)
        return RateLimitResult(True, limit, limit, period, period, 0)
    count = int(usage["count"])
    if usage["time_left"] == -1 and count == 0:  # the cache answered nonsense twice
        cache_failed(RuntimeError("counter unavailable"))
        return _fallback(bucket, hit.rate, fallback_increment)
    return RateLimitResult(
        allowed=not usage["should_limit"],
        limit=limit,
        remaining=max(0, limit - count),
        reset_after=max(1, int(usage["time_left"])),
        period=period,
        count=count,
        window=bucket_window_end(bucket, period),
    )


def _hit_locally(hit: Hit) -> RateLimitResult:
    _group, bucket = _bucket(hit)
    increment = hit.increment or hit.member is not None
    return _fallback(bucket, hit.rate, increment, conditional=hit.conditional)


def _hit_many_via_script(
    shared: Any,
    items: Sequence[Item],
    stop_at_refusal: bool,
    always_count: int,
    reads: Sequence[str] = (),
) -> tuple[list[bytes], list[RateLimitResult]]:
    raw = raw_redis(shared)
    cluster = raw is not None and raw.cluster
    steps: list[Step] = []
    shapes: list[tuple[int, int, int | None]] = []  # limit, period, window end (None: quota)
    for item in items:
        if isinstance(item, Refund):
            limit, period = rate_parse(item.hit.rate)
            key = _bucket_key(item.hit, item.window)
            key = owned_key(key, owner=item.hit.ident) if cluster else key
            steps.append(Step(key, period + TTL_FUDGE, TALLY_LIMIT, refund=True))
            shapes.append((TALLY_LIMIT, period, None))
            continue
        if isinstance(item, Quota):
            member_key = _quota_member_key(item) if item.member is not None else None
            steps.append(
                Step(item.key, item.ttl, item.limit, member_key=member_key, member_ttl=item.ttl)
            )
            shapes.append((item.limit, item.ttl, None))
            continue
        if isinstance(item, Claim):
            steps.append(Step(item.key, item.ttl, 1, claim=True))
            shapes.append((1, item.ttl, None))
            continue
        if isinstance(item, Tally):
            steps.append(Step(item.key, item.ttl, TALLY_LIMIT))
            shapes.append((TALLY_LIMIT, item.ttl, None))
            continue
        limit, period = rate_parse(item.rate)
        group, bucket = _bucket(item)
        window = bucket_window_end(bucket, period)
        key = bucket_cache_key(group, window, item.rate, bucket)
        member_key = None if item.member is None else _member_key(item)
        if cluster:
            # django-ratelimit's names carry no hash tag: the owner's is added
            # here (which is why a cluster counts only through this script).
            key = owned_key(key, owner=item.ident)
            member_key = None if member_key is None else owned_key(member_key, owner=item.ident)
        ttl = period + TTL_FUDGE
        # A hit that only observes never stops the count: the script sees no limit.
        stop_limit = limit if item.stops else TALLY_LIMIT
        if member_key is None:
            steps.append(Step(key, ttl, stop_limit, item.increment, conditional=item.conditional))
        else:
            steps.append(Step(key, ttl, stop_limit, member_key=member_key, member_ttl=period))
        shapes.append((limit, period, window))
    values, counts = redis_count(
        shared, steps, stop_at_refusal=stop_at_refusal, always_count=always_count, reads=reads
    )
    now = int(time.time())
    return values, [
        _result(count, limit, period, period if window is None else window - now, window or 0)
        for count, (limit, period, window) in zip(counts, shapes, strict=False)
    ]


def _until_refused(
    items: Sequence[Any],
    count: Callable[[Any], RateLimitResult],
    stop_at_refusal: bool,
    always: int,
) -> list[RateLimitResult]:
    counted: list[RateLimitResult] = []
    refused = False
    for item in items:
        if stop_at_refusal and refused and len(counted) >= always:
            break
        counted.append(count(item))
        stops = getattr(item, "stops", True)  # only a Hit may merely observe
        refused = refused or (stops and not counted[-1].allowed)
    return counted


def _claim_via_cache(claim: Claim) -> RateLimitResult:
    # Like a quota, no local fallback: a replay store per process lets a replay
    # through on every other process.
    if cache_health.is_down(time.monotonic()):
        raise ProtectionError("service_unavailable", headers={"Retry-After": "5"})
    try:
        claimed = cache.add(claim.key, 1, timeout=claim.ttl)
    except Exception as exc:
        raise _quota_unavailable(exc) from exc
    return _result(1 if claimed else 2, 1, claim.ttl, claim.ttl)


def _tally_via_cache(tally: Tally) -> RateLimitResult:
    def count() -> int:
        # add() then incr(): atomic on Redis, never resets a live counter.
        cache.add(tally.key, 0, timeout=tally.ttl)
        return int(cache.incr(tally.key))

    return _result(shared_cache_call(count, 0), TALLY_LIMIT, tally.ttl, tally.ttl)


def _item_via_cache(item: Item) -> RateLimitResult:
    if isinstance(item, Refund):
        return _refund_via_cache(item)
    if isinstance(item, Quota):
        return _quota_via_cache(item)
    if isinstance(item, Claim):
        return _claim_via_cache(item)
    if isinstance(item, Tally):
        return _tally_via_cache(item)
    return _hit_via_get_usage(item)


def _item_locally(item: Item) -> RateLimitResult:
    if isinstance(item, Tally):  # reputation waits for the shared cache
        return _result(0, TALLY_LIMIT, item.ttl, item.ttl)
    if isinstance(item, Refund):  # the shared counter stays one high: the strict side
        return _result(0, TALLY_LIMIT, 1, 1)
    return _hit_locally(item)  # type: ignore[arg-type]


def rate_limit_hit_many(
    items: Sequence[Item], *, stop_at_refusal: bool = False, always_count: int = 0
) -> list[RateLimitResult]:
    """Count every ``Hit`` / ``Quota`` in order; return one result per item counted.

    On Redis all of them cost one round trip. With ``stop_at_refusal`` the
    items after the first refused one are not counted (the list ends there),
    exactly as if each were checked in turn; the first ``always_count`` items
    are counted even so (a request's group limits: a refused request spends
    every window of them). Raises ``ProtectionError``
    (``service_unavailable``) when a ``Quota`` cannot reach the cache, and
    for any item with ``RATE_LIMIT_CACHE_FAILURE = "closed"``.
    """
    return rate_limit_read_and_hit(
        items, stop_at_refusal=stop_at_refusal, always_count=always_count
    )[1]


def _read_via_cache(reads: Sequence[str]) -> list[bytes | None]:
    def read() -> list[bytes | None]:
        found = cache.get_many(list(reads))
        return [b"" if found.get(key) is None else str(found[key]).encode() for key in reads]

    return shared_cache_call(read, [None] * len(reads))


def rate_limit_read_and_hit(
    items: Sequence[Item],
    *,
    reads: Sequence[str] = (),
    stop_at_refusal: bool = False,
    always_count: int = 0,
) -> tuple[list[bytes | None], list[RateLimitResult]]:
    """Read the cache keys ``reads`` and count ``items``: on Redis, one round trip.

    Returns the values read (``b""`` when a key is absent, ``None`` for every
    key when the cache could not be read: the caller must then fall back to
    its source of truth) and the results, as ``rate_limit_hit_many``.
    """
    for item in items:
        if isinstance(item, Hit):
            rate_parse(item.rate)  # a bad rate is a configuration error, not a cache outage
    has_quota = any(isinstance(item, Quota | Claim) for item in items)
    unread: list[bytes | None] = [None] * len(reads)
    shared = redis_cache() if getattr(settings, "RATELIMIT_ENABLE", True) else None
    if shared is None or not batch_available():
        values = _read_via_cache(reads) if reads else []
        return values, _until_refused(items, _item_via_cache, stop_at_refusal, always_count)
    if has_quota and cache_health.is_down(time.monotonic()):
        # A quota has no local fallback (per process it would multiply a
        # session's quota): refuse at once rather than wait on a dead cache.
        raise ProtectionError("service_unavailable", headers={"Retry-After": "5"})
    if not cache_health.is_down(time.monotonic()):
        try:
            read, results = _hit_many_via_script(
                shared, items, stop_at_refusal, always_count, reads
            )
            return list[bytes | None](read), results
        except Exception as exc:  # any cache client error: connection, timeout, protocol
            cache_failed(exc)
            if has_quota:
                raise ProtectionError("service_unavailable", headers={"Retry-After": "5"}) from exc
    # No quota or claim gets here (they refused above).
    return unread, _until_refused(items, _item_locally, stop_at_refusal, always_count)


def rate_limit_hit(*, group: str, ident: str, rate: str, increment: bool = True) -> RateLimitResult:
    """Count one hit of ``ident`` in ``group`` against ``rate`` (atomic, shared)."""
    return rate_limit_hit_many([Hit(group, ident, rate, increment=increment)])[0]


def rate_limit_distinct_hit(*, group: str, ident: str, member: str, rate: str) -> RateLimitResult:
    """Count ``member`` once per window among the distinct members seen for ``ident``.

    E.g. distinct identifiers looked up per client IP: the same identifier
    again does not count twice, a new one does.
    """
    return rate_limit_hit_many([Hit(group, ident, rate, member=member)])[0]
