"""What a log record knows about the request it was written in.

The edge (``protection.requestid``) opens a context per request with its
request id and client IP; whoever learns more (the API key's public id, the
anonymous session) calls ``log_context_update``. ``RequestContextFilter``,
installed on the log handler, copies the context onto every record, so each
JSON log line names its request without any caller passing it along.

Only identifiers go in here (request id, IP, key public id, session id):
never an email, a phone number or a secret. The same filter keeps query
strings out of every log line (``redact_query``): a refused
``POST /api/v1/challenges?api_key=...`` or ``?email=...`` must not put the
key or the address in the log through Django's ``django.request`` warning,
whose ``request`` field (the request's repr) holds the full URL.
"""

import contextvars
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FIELDS = ("request_id", "client_ip", "api_key", "session_id")

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "gatehouse_log_context", default=None
)


def log_context() -> dict[str, str]:
    """Return a copy of the current request's log fields (empty outside a request)."""
    return dict(_context.get() or {})


@contextmanager
def log_context_open(**fields: Any) -> Iterator[None]:
    """Open a fresh context (one per request) with ``fields``; restore the old one after."""
    token = _context.set(_clean(fields))
    try:
        yield
    finally:
        _context.reset(token)


def log_context_update(**fields: Any) -> None:
    """Add ``api_key``, ``session_id``, ``client_ip`` or ``request_id`` to the current context.

    ``api_key`` may be an ApiKey (its public id is taken) or a public id.
    Unknown field names raise ``TypeError``: a typo must not silently log nothing.
    """
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    current = _context.get()
    if current is None:  # outside a request (a command, a test calling a class directly)
        return
    _context.set({**current, **_clean(fields)})


def _clean(fields: dict[str, Any]) -> dict[str, str]:
    cleaned = {}
    for name, value in fields.items():
        if name == "api_key":
            value = getattr(value, "public_id", value)
        if value is not None and value != "":
            cleaned[name] = str(value)
    return cleaned


# Where the edge (protection.requestid) leaves a request's fields for the
# records Django writes after the middleware chain returned ("Not Found: /x",
# django.request, with the request on the record).
KEPT_ATTRIBUTE = "gatehouse_log_fields"

# A path followed by a query: "/api/v1/challenges?api_key=..." (also inside a
# repr or a URL). The query goes, the path stays; "?" marks that one was sent.
_PATH_QUERY = re.compile(r"(/[^\s?#\"'<>]*)\?[^\s\"'<>]*")
REDACTED_QUERY = "?[redacted]"


def redact_query(text: str) -> str:
    """``text`` with the query string of every path in it replaced by ``?[redacted]``."""
    return (
        _PATH_QUERY.sub(lambda match: match.group(1) + REDACTED_QUERY, text)
        if "?" in text
        else text
    )


class _RedactedRequest:
    """A request as log records carry it (``extra={"request": ...}``): its repr
    without the query; every attribute is the request's own, for handlers that
    read it (AdminEmailHandler)."""

    def __init__(self, wrapped: Any) -> None:
        self.__dict__["_request"] = wrapped

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_request"], name)

    def __repr__(self) -> str:
        return redact_query(repr(self.__dict__["_request"]))

    __str__ = __repr__


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_query(value)
    if hasattr(value, "get_full_path") and hasattr(value, "method"):  # an HttpRequest
        return _RedactedRequest(value)
    return value


class RequestContextFilter(logging.Filter):
    """Put ``request_id``, ``client_ip``, ``api_key`` and ``session_id`` on every record,
    and take query strings out of it (the message, its arguments, ``request``).

    A value the caller passed with ``extra=`` wins; then the open request
    context; then the fields kept on the record's ``request`` (Django's own
    request lines). Fields nobody knows are None, so every JSON line has the
    same keys.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        if not context:
            kept = getattr(getattr(record, "request", None), "__dict__", {}).get(KEPT_ATTRIBUTE)
            context = kept if isinstance(kept, dict) else {}
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, context.get(name))
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    request = record.__dict__.get("request")
    if request is not None and not isinstance(request, _RedactedRequest):
        record.request = _redacted(request)
    if isinstance(record.msg, str):
        record.msg = redact_query(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redacted(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {key: _redacted(value) for key, value in record.args.items()}
