"""Count a request against its group's limits and turn refusals into 429s.

Used by the early middleware (the per-IP dimension, before authentication),
by the DRF throttle (key and session, after it) and by plain views through
``rate_limit_enforce``. Everything counted for one request is kept on the
request, so the response carries one set of RateLimit headers.

A view can have its key and session limits counted together with its
service's own limits, in one round trip: the throttle only *defers* them
(``rate_limit_defer``) and the service hands its items to
``rate_limit_flush``, which counts the deferred ones first. Whatever the
view does, the deferred limits are counted before the response leaves it
(``protection.throttling.RateLimitsCountedByService`` flushes them when the
request fails).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from protection.exceptions import ProtectionError
from protection.ratelimit.counters import Hit, Quota, RateLimitResult, rate_limit_hit_many
from protection.ratelimit.headers import CountedLimit, ratelimit_headers

_STATE_ATTRIBUTE = "_gatehouse_rate_limits"
_DEFERRED_ATTRIBUTE = "_gatehouse_deferred_rate_limits"


@dataclass(frozen=True)
class _Deferred:
    """Group limits the throttle left for the view's service to count."""

    group: str
    entries: Sequence[tuple[str, str, str, Sequence[str]]]
    api_key: Any
    session_id: Any


def request_counted(request: Any) -> list[CountedLimit]:
    """The limits counted so far for this request (shared by middleware and throttle)."""
    http_request = getattr(request, "_request", request)  # DRF Request wraps HttpRequest
    counted = getattr(http_request, _STATE_ATTRIBUTE, None)
    if counted is None:
        counted = []
        setattr(http_request, _STATE_ATTRIBUTE, counted)
    return counted


def rate_limit_count(
    *, group: str, dimension: str, ident: str, rates: Sequence[str]
) -> list[CountedLimit]:
    """Count one hit of ``ident`` against every rate of one dimension of ``group``."""
    return rate_limit_count_many([(group, dimension, ident, rates)])


def rate_limit_count_many(
    entries: Sequence[tuple[str, str, str, Sequence[str]]],
) -> list[CountedLimit]:
    """Count ``(group, dimension, ident, rates)`` entries: one hit per rate.

    On Redis all of them in one round trip (``rate_limit_hit_many``).
    """
    items = _expand(entries)
    results = rate_limit_hit_many([Hit(group, ident, rate) for group, _d, ident, rate in items])
    return [
        CountedLimit(dimension, rate, result)
        for (_g, dimension, _i, rate), result in zip(items, results, strict=True)
    ]


def _expand(
    entries: Sequence[tuple[str, str, str, Sequence[str]]],
) -> list[tuple[str, str, str, str]]:
    return [
        (f"{group}:{dimension}", dimension, ident, rate)
        for group, dimension, ident, rates in entries
        for rate in rates
    ]


def rate_limit_defer(
    request: Any,
    *,
    group: str,
    entries: Sequence[tuple[str, str, str, Sequence[str]]],
    api_key: Any = None,
    session_id: Any = None,
) -> None:
    """Leave ``entries`` (as for ``rate_limit_count_many``) for ``rate_limit_flush``."""
    http_request = getattr(request, "_request", request)
    setattr(http_request, _DEFERRED_ATTRIBUTE, _Deferred(group, entries, api_key, session_id))


def rate_limit_flush(request: Any, extra: Sequence[Hit | Quota] = ()) -> list[RateLimitResult]:
    """Count the request's deferred group limits, then ``extra``, in one round trip.

    Every window of the deferred limits is counted; ``extra`` stops at its
    first refusal and is not counted at all once a deferred limit refuses,
    which raises the 429 (and records it) as the throttle would have.
    Returns the results of ``extra`` that were counted. ``request`` may be
    None (a service called outside a request): then only ``extra`` counts.
    """
    http_request = getattr(request, "_request", request)
    deferred: _Deferred | None = getattr(http_request, _DEFERRED_ATTRIBUTE, None)
    if deferred is None:
        return rate_limit_hit_many(extra, stop_at_refusal=True)
    delattr(http_request, _DEFERRED_ATTRIBUTE)
    items = _expand(deferred.entries)
    hits = [Hit(group, ident, rate) for group, _d, ident, rate in items]
    results = rate_limit_hit_many([*hits, *extra], stop_at_refusal=True, always_count=len(hits))
    counted = request_counted(http_request)
    counted.extend(
        CountedLimit(dimension, rate, result)
        for (_g, dimension, _i, rate), result in zip(items, results, strict=False)
    )
    error = rate_limit_refusal(counted)
    if error is not None:
        rate_limit_record_refusal(
            request=http_request,
            group=deferred.group,
            counted=counted,
            api_key=deferred.api_key,
            session_id=deferred.session_id,
        )
        raise error
    return results[len(hits) :]


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
    request: HttpRequest | None,
    group: str,
    counted: Sequence[CountedLimit],
    api_key: Any = None,
    session_id: Any = None,
) -> None:
    """Write the ``rate_limited`` deny event (it also feeds automatic blocking)."""
    from protection.events import event_record

    dimensions = sorted({item.dimension for item in counted if not item.result.allowed})
    event_record(
        kind="rate_limited",
        decision="deny",
        reason=f"{group}:{','.join(dimensions)}"[:64],
        request=getattr(request, "_request", request),
        api_key=api_key,
        session_id=session_id,
        details={"group": group, "dimensions": dimensions},
    )


def rate_limit_enforce(*, group: str, ident: str, rates: Sequence[str]) -> None:
    """Count a hit against every rate; raise ``rate_limited`` if any is exceeded."""
    results = rate_limit_hit_many([Hit(group, ident, rate) for rate in rates])
    counted = [
        CountedLimit("limit", rate, result) for rate, result in zip(rates, results, strict=True)
    ]
    error = rate_limit_refusal(counted)
    if error is not None:
        raise error


__all__ = [
    "CountedLimit",
    "RateLimitResult",
    "rate_limit_count",
    "rate_limit_count_many",
    "rate_limit_defer",
    "rate_limit_enforce",
    "rate_limit_flush",
    "rate_limit_record_refusal",
    "rate_limit_refusal",
    "request_counted",
]
