"""One outbound HTTP POST for channels: a total deadline, no redirects, an optional pinned address.

Channels that talk HTTP (webhooks, the Twilio SMS adapter) post through
``http_post``. Its ``timeout`` bounds the whole exchange (connecting,
TLS, sending, the status line, headers and the first ``max_body`` bytes of
the answer): a watchdog closes the socket at the deadline, so a receiver
that drips one byte a second cannot hold a sender for longer. Redirects are
never followed: a 3xx is returned as it came. ``address`` connects to that
IP instead of resolving the URL's host again (the Host header and TLS
certificate check still use the host): what was checked is what is called.
"""

import http.client
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class HttpFailure(Exception):
    """No answer: refused, reset, timed out, TLS failure. The text names no secret."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def _pinned_connect(address: str) -> Any:
    def create_connection(host_port: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        return socket.create_connection((address, host_port[1]), *args, **kwargs)

    return create_connection


def http_post(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    address: str | None = None,
    max_body: int = 64 * 1024,
) -> HttpAnswer:
    """POST ``body`` to ``url``; return the answer, or raise ``HttpFailure``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpFailure("not an http(s) URL")
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    if address is not None:
        connection._create_connection = _pinned_connect(address)  # type: ignore[attr-defined]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    expired = threading.Event()

    def abort() -> None:
        expired.set()
        if connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(timeout, abort)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        data = response.read(max_body)
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
        if expired.is_set():
            raise HttpFailure(f"timed out after {timeout:g}s")
        return HttpAnswer(response.status, answer_headers, data)
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set() or isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
            raise HttpFailure(f"timed out after {timeout:g}s") from None
        raise HttpFailure(_describe(exc)) from None
    finally:
        watchdog.cancel()
        connection.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, socket.gaierror):
        return "host does not resolve"
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP answer ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` given in seconds, or None (HTTP dates are ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 10**7 else None
