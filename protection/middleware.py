"""The first protection layer of every API request, before any view or query.

``BlockAndRateLimitMiddleware`` (right after ``ApiProblemMiddleware``):

1. counts the request against the per-IP limits of the view's
   ``rate_limit_group`` (before authentication, so requests that will fail
   authentication, or are blocked, or are refused, all spend the budget);
2. refuses blocked IPs and networks with 403 ``blocked`` (in-process
   compiled list, no database query);
3. refuses an exhausted per-IP budget with 429 ``rate_limited``;
4. adds the IETF RateLimit headers of everything counted for the request
   (here and in the throttle) to the response, allowed or refused.
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from protection.blocks import blocks_check
from protection.clientip import client_ip, rate_limit_ident
from protection.errors import is_api_request, problem_for_exception
from protection.exceptions import ProtectionError
from protection.ratelimit import (
    group_rates,
    rate_limit_count,
    rate_limit_record_refusal,
    rate_limit_refusal,
    ratelimit_headers,
    request_counted,
)
from protection.throttling import view_rate_limit_group


class BlockAndRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        counted = getattr(request, "_gatehouse_rate_limits", None)
        if counted and "RateLimit" not in response:
            for name, value in ratelimit_headers(counted).items():
                response[name] = value
        return response

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if not is_api_request(request):
            return None
        ip = client_ip(request)
        group = view_rate_limit_group(view_func)
        counted = request_counted(request)
        try:
            if group is not None:
                rates = group_rates(group).get("ip") or []
                counted += rate_limit_count(
                    group=group, dimension="ip", ident=rate_limit_ident(ip), rates=rates
                )
            blocks_check(ip=ip, request=request)
            error = rate_limit_refusal(counted)
            if error is not None:
                rate_limit_record_refusal(request=request, group=group or "", counted=counted)
                raise error
        except ProtectionError as exc:
            return problem_for_exception(exc)
        return None
