"""One access-log line and the HTTP metrics per request, written by ``RequestIdMiddleware``.

The line (logger ``gatehouse.access``, INFO) has the method, the route (the
URL pattern that served the request, e.g. ``api/v1/persons/lookup``; empty
when none matched), the status and the duration; the log filter adds the
request id, client IP, API key and session. Never the query string, the raw
path or a body: a path or a query can carry an email address, and a raw
path would make one metric series per scanner's guess.
"""

import logging

from django.http import HttpRequest, HttpResponseBase

from protection.core.metrics import metrics_http_request
from protection.http.probes import probe_client_ip, request_is_probe

logger = logging.getLogger("gatehouse.access")


def request_route(request: HttpRequest) -> str:
    """The URL pattern that served ``request`` ("" when no pattern matched)."""
    match = getattr(request, "resolver_match", None)
    return str(match.route) if match is not None and match.route else ""


def access_record(request: HttpRequest, response: HttpResponseBase, *, seconds: float) -> None:
    """Count the request in the HTTP metrics and write its access-log line."""
    method = str(request.method or "")
    route = request_route(request)
    metrics_http_request(method=method, route=route, status=response.status_code, seconds=seconds)
    if not logger.isEnabledFor(logging.INFO):
        return
    extra = {
        "http_method": method[:16],
        "route": route,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 1),
    }
    if route and request_is_probe(request):
        # A direct probe or scrape is its own client (protection.http.probes).
        extra["client_ip"] = probe_client_ip(request)
    logger.info(
        "%s %s %s %.1fms",
        extra["http_method"],
        route or "-",
        response.status_code,
        extra["duration_ms"],
        extra=extra,
    )
