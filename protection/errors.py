"""Every error under the API prefix becomes RFC 9457 application/problem+json.

Domain errors (``ProtectionError``) are DRF exceptions themselves (with
their status, ``WWW-Authenticate`` and ``Retry-After``), so any exception
handler renders them; this module's handler renders them (and everything
else) as problem+json with the domain code.

Three entry points, one body shape:
- ``exception_handler``: DRF's EXCEPTION_HANDLER, for errors raised in API views;
- ``ApiProblemMiddleware``: refuses oversized bodies before parsing, turns an
  exception that escaped every handler into problem+json, and rewrites any
  non-JSON error response under the API prefix (Django's 404/500 pages, CSRF
  failures, DEBUG tracebacks) into problem+json; JSON errors are kept as their
  exception handler wrote them (a host on DRF's default handler keeps its
  ``{"detail": ...}``);
- ``api_not_found``: the catch-all view for unknown API paths;
- ``AllowedHostMiddleware``: a Host outside ALLOWED_HOSTS gets 400
  ``host_not_allowed`` (on every path but the probe views', which answer
  any Host: ``protection.http.probes``) and one log line, not a traceback.
No stack trace or internal detail ever reaches a client.
"""

import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import DisallowedHost
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError
from rest_framework import exceptions as drf_exceptions

from protection.base.exceptions import ProtectionError, problem_body
from protection.conf import gatehouse_settings
from protection.http.probes import probe_host_accept, request_is_probe

logger = logging.getLogger("gatehouse.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"

_DRF_CODES: dict[type[Exception], str] = {
    drf_exceptions.ParseError: "malformed_json",
    drf_exceptions.NotAuthenticated: "api_key_missing",
    drf_exceptions.AuthenticationFailed: "token_invalid",
    drf_exceptions.PermissionDenied: "forbidden",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
}

_STATUS_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "token_invalid",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "service_unavailable",
}


def problem_response(
    code: str,
    detail: str | None = None,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JsonResponse:
    """Return the problem+json response for a catalogue ``code``."""
    body = problem_body(code, detail, status=status, extra=extra)
    response = JsonResponse(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _validation_errors(data: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested ValidationError detail into a list of field errors."""
    errors: list[dict[str, str]] = []
    if isinstance(data, dict):
        for field, value in data.items():
            errors += _validation_errors(value, f"{prefix}.{field}" if prefix else str(field))
    elif isinstance(data, list):
        for item in data:
            errors += _validation_errors(item, prefix)
    else:
        code = getattr(data, "code", "invalid")
        errors.append({"field": prefix or "non_field_errors", "code": code, "detail": str(data)})
    return errors


def problem_for_exception(exc: Exception) -> JsonResponse:
    """Map any exception to its problem+json response; unknown ones become 500."""
    if isinstance(exc, ProtectionError):
        return problem_response(exc.code, str(exc.detail), headers=exc.headers, extra=exc.extra)
    if isinstance(exc, drf_exceptions.ValidationError):
        return problem_response("invalid_request", extra={"errors": _validation_errors(exc.detail)})
    if isinstance(exc, drf_exceptions.Throttled):
        wait = max(1, int(getattr(exc, "wait", None) or 1))
        return problem_response("rate_limited", headers={"Retry-After": str(wait)})
    if isinstance(exc, drf_exceptions.APIException):
        code = next(
            (c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)),
            _STATUS_CODES.get(exc.status_code, "invalid_request"),
        )
        # DRF's own messages for these are safe and useful ("Method \"GET\" not allowed.").
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(code, str(detail) if detail else None, status=exc.status_code)
    if isinstance(exc, DatabaseError | RedisError):
        # A backing service is down or failing: the client may retry, nothing it sent is wrong.
        logger.warning("Backing service error: %s", exc.__class__.__name__, exc_info=exc)
        return problem_response("service_unavailable", headers={"Retry-After": "5"})
    if isinstance(exc, Http404):
        return problem_response("not_found")
    if isinstance(exc, DjangoPermissionDenied):
        return problem_response("forbidden")
    logger.exception("Unhandled error", exc_info=exc)
    return problem_response("internal_error")


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> JsonResponse:
    """DRF EXCEPTION_HANDLER: every error raised in an API view, as problem+json."""
    response = problem_for_exception(exc)
    view, request = context.get("view"), context.get("request")
    if response.status_code == 401 and "WWW-Authenticate" not in response and view is not None:
        # RFC 9110: every 401 names a scheme, also when a service refused a
        # credential sent in the body (a refresh token): the view's own.
        challenge = view.get_authenticate_header(request)
        if challenge:
            response["WWW-Authenticate"] = challenge
    return response


def is_api_request(request: HttpRequest) -> bool:
    """Whether the request is routed to the API (so protected and answered in problem+json).

    Decided on ``path_info``, the path the URL resolver routes, never on
    ``path``: that one is prefixed with SCRIPT_NAME, which a client could set
    through a forwarded header (gunicorn trusts it from loopback by default),
    so the protection would skip a request the API view still answers.
    """
    return request.path_info.startswith(gatehouse_settings.API_PREFIX)


def _body_size_problem(request: HttpRequest) -> JsonResponse | None:
    raw_length = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw_length)
    except ValueError:
        return problem_response("invalid_request", "Content-Length is not a number.")
    if length < 0:
        return problem_response("invalid_request", "Content-Length is not a number.")
    limit = gatehouse_settings.MAX_BODY_BYTES
    if length > limit:
        return problem_response(
            "payload_too_large", f"The request body must not exceed {limit} bytes."
        )
    return None


def _is_json(response: HttpResponse) -> bool:
    media_type = response.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class ApiProblemMiddleware:
    """Refuse oversized API bodies; no API error is ever an HTML page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return self.get_response(request)
        refused = _body_size_problem(request)
        if refused is not None:
            return refused
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response):
            # Django's HTML pages (404, 500, CSRF failure, a DEBUG traceback).
            # A JSON error is kept as its handler wrote it: gatehouse's own
            # (problem+json) or the host's (DRF's default {"detail": ...}).
            code = _STATUS_CODES.get(response.status_code)
            rewritten = (
                problem_response(code, status=response.status_code)
                if code
                else problem_response("internal_error")
            )
            for header in ("Allow", "Retry-After"):
                if header in response:
                    rewritten[header] = response[header]
            return rewritten
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_request(request):
            return None
        return problem_for_exception(exception)


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Catch-all for unknown paths under the API prefix (DEBUG or not).

    CSRF-exempt like every API view (DRF's APIView is too): otherwise
    CsrfViewMiddleware answers a POST here with 403 before the view says 404.
    """
    return problem_response("not_found")


class AllowedHostMiddleware:
    """Refuse a Host outside ALLOWED_HOSTS with problem+json, before anything reads it.

    First in MIDDLEWARE: Django would otherwise raise DisallowedHost inside a
    later middleware (the HTTPS redirect, CSRF), log it with a traceback and
    answer a bare 400 that the API rewrites as "the request body is not
    valid". The Host is client-controlled and says nothing about this server's
    health, so one warning line is the right amount of noise.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.get_host()
        except DisallowedHost:
            if request_is_probe(request):
                # A probe or scrape by the instance's address (Host: 10.0.3.21:8000).
                probe_host_accept(request)
                return self.get_response(request)
            raw_host = request.META.get("HTTP_X_FORWARDED_HOST") or request.META.get(
                "HTTP_HOST", request.META.get("SERVER_NAME", "")
            )
            logger.warning("Refused a request for host %r (not in ALLOWED_HOSTS)", raw_host[:100])
            return problem_response("host_not_allowed")
        return self.get_response(request)
