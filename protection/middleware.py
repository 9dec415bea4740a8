"""The gate's first two steps, before any view or query, and its last count.

``BlockAndRateLimitMiddleware`` (right after ``ApiProblemMiddleware``), for
requests routed under the API prefix:

- before the view (``process_view``), for views that declare an endpoint
  group (``rate_limit_group``): the gate's ``ip_block`` and ``over_budget``
  steps (``protection.http.gate.gate_edge``): the in-process compiled block
  list and this process's memory of addresses over their budget; no I/O;
- around the request: events recorded carry its client IP and path, and the
  counts reactions ask for wait for the request's one round trip;
- on the way out (``gate_finish``): what a request refused before its round
  trip left pending (its per-IP budget) is counted, with the deferred
  counts, in one round trip, answering 429 if that crossed a limit (a block
  stays a 403); an answer that is not a success (400 or more) takes back, in
  that round trip, what the request's identity dimensions counted; then the
  IETF RateLimit headers of everything counted.

Views marked ``ip_blocks_apply = False`` (health and readiness, which load
balancers call from addresses that may be blocked) are never refused here.
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from protection.base.exceptions import ProtectionError
from protection.core.events import event_scope, events_flush_if_due
from protection.core.ratelimit import counts_deferred, ratelimit_headers
from protection.errors import is_api_request, problem_for_exception
from protection.http.context import request_context
from protection.http.gate import gate_edge, gate_finish


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


class BlockAndRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return self.get_response(request)
        context = request_context(request)
        with event_scope(client_ip=context.client_ip, path=context.path), counts_deferred():
            response = self.get_response(request)
            blocked = context.verdict is not None and context.verdict.step == "ip_block"
            error = gate_finish(context, refused_by_block=blocked, status=response.status_code)
            if error is not None:
                response = problem_for_exception(error)
        if context.limits.counted and "RateLimit" not in response:
            for name, value in ratelimit_headers(context.limits.counted).items():
                response[name] = value
        events_flush_if_due()
        return response

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if not is_api_request(request) or not _view_attribute(view_func, "ip_blocks_apply", True):
            return None
        context = request_context(request)
        try:  # in the scope __call__ opened: events carry the client and path
            gate_edge(context, group=view_rate_limit_group(view_func) or "", ip_blocks=True)
        except ProtectionError as exc:
            return problem_for_exception(exc)
        return None
