"""DRF throttle class over ``protection.core.ratelimit``: one round trip per request.

``GatehouseRateThrottle`` is the project default
(``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]``). A view opts in with
``rate_limit_group = "<group>"`` (challenge, session, refresh, lookup,
create); views without it are not limited. DRF runs throttles after
authentication: the throttle adds the per-key and per-session limits of the
group to what the request must count (the per-IP ones, which the middleware
left pending, included; without the middleware it adds them itself) and
counts all of them, with the session's revocation state and the block-list
version, in one cache round trip. ``allow_request`` answers the limits and
``wait()`` how long to wait.

Where it departs from DRF's contract, and why:

- a view with ``rate_limits_counted_by_service = True`` (the lookup) is let
  through uncounted: its service counts these limits together with its own
  in the same round trip (``request_limits_count``); what a failing request
  never counted, the middleware counts on the way out;
- a revoked session or a block learned in that round trip raises its
  401/403 here (a DRF exception), since this is where it is read.
"""

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from protection.base.clientip import rate_limit_ident
from protection.base.exceptions import ProtectionError
from protection.core.ratelimit import group_rates, ratelimit_headers, request_limits_count
from protection.errors import drf_exception
from protection.http.context import request_context


class GatehouseRateThrottle(BaseThrottle):
    """Atomic, multi-window limits per API key, session and client IP."""

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def get_idents(self, request: Request) -> dict[str, Any]:
        """Return dimension -> identity for this request (missing ones are skipped)."""
        context = request_context(request)
        session = context.session
        return {
            "ip": rate_limit_ident(context.client_ip),
            "key": getattr(context.api_key, "public_id", None),
            "session": str(session.id) if session is not None else None,
        }

    def allow_request(self, request: Request, view: Any) -> bool:
        group = getattr(view, "rate_limit_group", None)
        if not group:
            return True
        context = request_context(request)
        context.limits.group = group
        idents = self.get_idents(request)
        for dimension, rates in group_rates(group, api_key=context.api_key).items():
            if idents.get(dimension) is not None:
                context.limits.add(dimension=dimension, ident=idents[dimension], rates=rates)
        context.watch_blocks()
        if getattr(view, "rate_limits_counted_by_service", False):
            return True  # the service's round trip reads and judges the state too
        try:
            request_limits_count(context.limits)
        except ProtectionError as error:
            if error.code != "rate_limited":
                raise drf_exception(error) from None
            self.retry_after = float(error.headers.get("Retry-After", 1))
            # DRF puts a view's ``headers`` on the response it sends: the 429
            # carries the RateLimit fields under any exception handler, with
            # or without gatehouse's middleware (which adds them to every answer).
            headers = getattr(view, "headers", None)
            if isinstance(headers, dict):
                headers.update(ratelimit_headers(context.limits.counted))
            return False
        context.session_check_now()  # a group with no limit made no round trip
        return True

    def wait(self) -> float | None:
        return self.retry_after
