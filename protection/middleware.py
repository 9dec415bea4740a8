"""The first protection layer of every API request, before any view or query.

``BlockAndRateLimitMiddleware`` (right after ``ApiProblemMiddleware``), for
requests whose routed view declares a ``rate_limit_group``:

1. refuses blocked IPs and networks with 403 ``blocked`` (the in-process
   compiled list: no database query, no round trip);
2. leaves the IP's limits of the group pending in the request context: they
   are counted with everything else the request counts, in its one cache
   round trip (the throttle, or the view's service). An address this process
   saw over its budget is counted (and refused) at once instead, before
   authentication: its requests cost no database work;
3. on the way out, counts what is still pending (a request refused or failed
   before its round trip: blocked, a bad key, a bad body: every request
   spends its IP budget) and answers 429 if that crossed a limit (a block
   stays a 403); then adds the IETF RateLimit headers of everything counted.

Views marked ``ip_blocks_apply = False`` (health and readiness, which load
balancers call from addresses that may be blocked) are never refused here.
Events recorded while the request runs carry its client IP and path.
"""

import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from protection.base.clientip import rate_limit_ident
from protection.base.exceptions import ProtectionError
from protection.base.processstate import process_state_register
from protection.blocks import blocks_check
from protection.core.events import event_scope, events_flush_if_due
from protection.core.ratelimit import group_rates, ratelimit_headers, request_limits_count
from protection.errors import is_api_request, problem_for_exception
from protection.http.context import request_context


def _view_attribute(view: Any, name: str, default: Any) -> Any:
    """An attribute of a view function, or of the class it was made from."""
    if hasattr(view, name):
        return getattr(view, name)
    view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
    return getattr(view_class, name, default)


def view_rate_limit_group(view: Any) -> str | None:
    """The endpoint group a view (class, instance or function) declares, if any."""
    group = _view_attribute(view, "rate_limit_group", None)
    return group if isinstance(group, str) and group else None


class _OverBudget:
    """Client buckets this process saw refused, until their window ends (bounded).

    A request from one of them is counted at once, before authentication:
    an address that spends its budget on well-formed but unknown keys must
    not cost a key lookup in the database per request.
    """

    def __init__(self) -> None:
        self.until: dict[tuple[str, str], float] = {}

    def known(self, group: str, ident: str) -> bool:
        return self.until.get((group, ident), 0.0) > time.monotonic()

    def remember(self, group: str, ident: str, seconds: float) -> None:
        now = time.monotonic()
        if len(self.until) > 10_000:
            self.until = {k: t for k, t in self.until.items() if t > now}
        self.until[(group, ident)] = now + seconds


over_budget = _OverBudget()
process_state_register("over-budget memo", over_budget.until.clear)


class BlockAndRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return self.get_response(request)
        context = request_context(request)
        with event_scope(client_ip=context.client_ip, path=context.path):
            response = self.get_response(request)
            if context.limits.pending:
                try:
                    request_limits_count(context.limits)
                except ProtectionError as exc:
                    if not context.blocked:
                        response = problem_for_exception(exc)
        counted = context.limits.counted
        for item in counted:
            if item.dimension == "ip" and not item.result.allowed:
                ident = rate_limit_ident(context.client_ip)
                over_budget.remember(context.limits.group, ident, item.result.reset_after)
        if counted and "RateLimit" not in response:
            for name, value in ratelimit_headers(counted).items():
                response[name] = value
        events_flush_if_due()
        return response

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if not is_api_request(request) or not _view_attribute(view_func, "ip_blocks_apply", True):
            return None
        context = request_context(request)
        group = view_rate_limit_group(view_func)
        ident = rate_limit_ident(context.client_ip)
        if group is not None:
            context.limits.group = group
            context.watch_blocks()
            context.limits.add(
                dimension="ip", ident=ident, rates=group_rates(group).get("ip") or []
            )
        try:
            with event_scope(client_ip=context.client_ip, path=context.path):
                blocks_check(ip=context.client_ip)
                if group is not None and over_budget.known(group, ident):
                    # Still counted (and refused with its event and headers) by
                    # the one round trip, but before any database work.
                    request_limits_count(context.limits)
        except ProtectionError as exc:
            context.blocked = exc.code == "blocked"
            return problem_for_exception(exc)
        return None
