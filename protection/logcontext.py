"""What a log record knows about the request it was written in.

The edge (``protection.requestid``) opens a context per request with its
request id and client IP; whoever learns more (the API key's public id, the
anonymous session) calls ``log_context_update``. ``RequestContextFilter``,
installed on the log handler, copies the context onto every record, so each
JSON log line names its request without any caller passing it along.

Only identifiers go in here (request id, IP, key public id, session id):
never an email, a phone number or a secret.
"""

import contextvars
import logging
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


class RequestContextFilter(logging.Filter):
    """Put ``request_id``, ``client_ip``, ``api_key`` and ``session_id`` on every record.

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
        return True
