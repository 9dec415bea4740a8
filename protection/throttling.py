"""DRF throttle classes over ``protection.ratelimit``.

``GatehouseRateThrottle`` is the project default
(``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]``). A view opts in with
``rate_limit_group = "<group>"`` (challenge, session, refresh, lookup,
create); views without it are not limited. DRF runs throttles after
authentication, so this class counts the per-key and per-session
dimensions; the per-IP dimension is counted earlier, before
authentication, by ``protection.middleware.BlockAndRateLimitMiddleware``
so failed and refused requests spend it too (without that middleware the
throttle counts the IP itself). A view built on ``RateLimitsCountedByService``
has them counted by its service instead, with the service's own limits in
the same round trip (``protection.ratelimit.rate_limit_flush``).
"""

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from protection.clientip import client_ip, rate_limit_ident
from protection.exceptions import ProtectionError
from protection.ratelimit import group_rates, rate_limit_defer, rate_limit_flush, request_counted


def view_rate_limit_group(view: Any) -> str | None:
    """The endpoint group a view (class, instance or function) declares, if any."""
    group = getattr(view, "rate_limit_group", None)
    if group is None:
        view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
        group = getattr(view_class, "rate_limit_group", None)
    return group if isinstance(group, str) and group else None


class GatehouseRateThrottle(BaseThrottle):
    """Atomic, multi-window limits per API key, session and client IP."""

    def get_idents(self, request: Request) -> dict[str, Any]:
        """Return dimension -> identity for this request (missing ones are skipped)."""
        caller = request.auth
        api_key = getattr(caller, "api_key", None)
        session = getattr(caller, "session", None)
        return {
            "ip": rate_limit_ident(client_ip(request)),
            "key": getattr(api_key, "public_id", None),
            "session": str(session.id) if session is not None else None,
        }

    def allow_request(self, request: Request, view: Any) -> bool:
        group = view_rate_limit_group(view)
        if group is None:
            return True
        caller = request.auth
        api_key = getattr(caller, "api_key", None)
        session = getattr(caller, "session", None)
        counted_before = request_counted(request)
        already = {item.dimension for item in counted_before}
        idents = self.get_idents(request)
        entries = []
        for dimension, rates in group_rates(group, api_key=api_key).items():
            if dimension in already or not rates or dimension not in idents:
                continue
            if idents[dimension] is None:  # no key / no session on this view: nothing to count
                continue
            entries.append((group, dimension, idents[dimension], rates))
        rate_limit_defer(
            request,
            group=group,
            entries=entries,
            api_key=api_key,
            session_id=getattr(session, "id", None),
        )
        if not isinstance(view, RateLimitsCountedByService):
            rate_limit_flush(request)
        return True

    def wait(self) -> float | None:
        return None


class RateLimitsCountedByService:
    """View mixin: the throttle defers the key and session limits to the service.

    The service passes its own counters to ``rate_limit_flush``, which counts
    the deferred ones first, in the same round trip. A request that fails
    before that (a bad body, a method not allowed) still spends them here,
    and a refusal from them wins over the other error.
    """

    def handle_exception(self, exc: Exception) -> Response:
        try:
            rate_limit_flush(self.request)  # type: ignore[attr-defined]
        except ProtectionError as refusal:
            exc = refusal
        return super().handle_exception(exc)  # type: ignore[misc]
