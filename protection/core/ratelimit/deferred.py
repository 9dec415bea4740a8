"""Counts that reactions ask for while a request runs ride its next round trip.

Listeners of the audit log count too: automatic blocking counts denials per
rule and client, reputation counts denials per client and key. Counted one
call each, a refused request cost four or five Redis round trips, more than
a served one. Inside a request (``counts_deferred``, opened by the edge for
each request) ``count_soon`` queues them instead, and
``request_limits_count`` counts them in the request's one round trip; their
``then`` runs with the results. Outside a request they are counted at once.
A ``then`` that fails is logged and skipped: a reaction never fails the
request that triggered it.
"""

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from protection.core.ratelimit.counters import Item, RateLimitResult, rate_limit_hit_many

logger = logging.getLogger("gatehouse.ratelimit")


@dataclass
class Deferred:
    items: list[Item]
    then: Callable[[list[RateLimitResult]], None]


_pending: contextvars.ContextVar[list[Deferred] | None] = contextvars.ContextVar(
    "gatehouse_deferred_counts", default=None
)


@contextlib.contextmanager
def counts_deferred() -> Iterator[None]:
    """Within this block, ``count_soon`` waits for the next round trip (whatever
    is left at the end is counted then, in one call)."""
    token = _pending.set([])
    try:
        yield
    finally:
        leftover = _pending.get() or []
        _pending.reset(token)
        if leftover:
            deferred_settle(leftover, rate_limit_hit_many(deferred_items(leftover)))


def count_soon(items: Sequence[Item], then: Callable[[list[RateLimitResult]], None]) -> None:
    """Count ``items`` with the request's next round trip (now, outside a request),
    then call ``then`` with their results."""
    pending = _pending.get()
    if pending is None:
        deferred_settle([Deferred(list(items), then)], rate_limit_hit_many(items))
    else:
        pending.append(Deferred(list(items), then))


def deferred_take() -> list[Deferred]:
    """The counts waiting for this request's round trip (the caller counts them)."""
    pending = _pending.get()
    if not pending:
        return []
    taken = list(pending)
    pending.clear()
    return taken


def deferred_pending() -> bool:
    """Whether counts wait for this request's round trip."""
    return bool(_pending.get())


def deferred_items(deferred: Sequence[Deferred]) -> list[Item]:
    return [item for entry in deferred for item in entry.items]


def deferred_settle(deferred: Sequence[Deferred], results: Sequence[RateLimitResult]) -> None:
    """Hand each deferred count its results (in order) and run its ``then``."""
    start = 0
    for entry in deferred:
        part = list(results[start : start + len(entry.items)])
        start += len(entry.items)
        try:
            entry.then(part)
        except Exception:
            logger.exception("A deferred count's reaction failed")
