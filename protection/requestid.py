"""Request ids: one per request, in every log line and in the ``X-Request-ID`` response header.

A trusted reverse proxy's ``X-Request-ID`` is kept, so one id follows the
request through the proxy's logs and ours; anyone else's is ignored (a
client must not be able to make its requests look like another's in the
logs). A proxy is trusted exactly as for ``X-Forwarded-For``
(``protection.base.clientip``). A kept id must look like an id: 1-128 characters
of letters, digits and ``-_.:/+=@``; otherwise a fresh one is generated.
"""

import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from protection.base.clientip import peer_is_trusted_proxy
from protection.http.access import access_record
from protection.http.context import client_ip
from protection.logcontext import KEPT_ATTRIBUTE, log_context, log_context_open

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
_VALID_ID = re.compile(r"[A-Za-z0-9\-_.:/+=@]{1,128}")


def request_id_for(request: HttpRequest) -> str:
    """Return the id of ``request``: the trusted proxy's, or a new random one."""
    offered = request.META.get(_META_KEY, "")
    if (
        offered
        and _VALID_ID.fullmatch(offered)
        and peer_is_trusted_proxy(request.META.get("REMOTE_ADDR", ""))
    ):
        return offered
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First middleware: gives the request its id, opens its log context, and
    writes its access-log line and HTTP metrics (``protection.http.access``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_for(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        with log_context_open(request_id=request_id, client_ip=client_ip(request)):
            response = self.get_response(request)
            response[HEADER] = request_id
            access_record(request, response, seconds=time.perf_counter() - started)
            # Django logs 4xx/5xx answers ("Not Found: /x", django.request) after
            # the last middleware returned, outside this context: the record
            # carries the request, and the log filter reads these from it.
            request.__dict__[KEPT_ATTRIBUTE] = log_context()
        return response
