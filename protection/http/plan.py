"""``GatePlan``: what an endpoint adds to the gate (``gate_plan`` on its view)."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from protection.core.events import Refusal
from protection.core.ratelimit import Item, RateLimitResult


@dataclass(frozen=True)
class GatePlan:
    """What an endpoint adds to the gate (``gate_plan`` on its view).

    ``parse(request, caller)`` validates and normalises the request's body
    (and headers) and returns it (raising DRF's ``ValidationError`` or a
    ``ProtectionError``); a body with a ``device_id`` names the device the
    client claims, checked against device blocks;
    ``hits(body, caller)`` names the endpoint's own counters, counted in the
    request's one round trip after its group limits; ``judge(body, caller,
    results)`` reads their results (as many as were counted: counting stops
    at the first refusal) and returns a ``Refusal`` or None. ``hits`` and
    ``judge`` are pure functions. ``caller`` is a ``Caller`` (None on a view
    without authentication). The view reads the same results from the
    request context (``plan_results``) when its answer depends on a counter
    that does not refuse (a claim that says "sent less than a minute ago").

    ``identities(body, caller)`` names who the body says the request is for
    the group's identity dimensions: ``{"mailbox": ident, "email_domain": …,
    "phone_prefix": …}`` (idents as keyed digests; a dimension left out is
    not counted). The gate counts those the group has rates for, on success
    only (``protection.http.gate``); the ``device`` dimension is the gate's.
    """

    parse: Callable[[Any, Any], Any]
    hits: Callable[[Any, Any], Sequence[Item]] | None = None
    judge: Callable[[Any, Any, Sequence[RateLimitResult]], Refusal | None] | None = None
    identities: Callable[[Any, Any], Mapping[str, str]] | None = None
