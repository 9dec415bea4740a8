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
    # Every socket object of the exchange, held here: http.client drops its
    # reference when the answer says "close", and the watchdog must still be
    # able to shut it. Holding the object (never a bare descriptor number)
    # means a socket closed meanwhile is refused, never another one reused.
    sockets: list[socket.socket] = []

    def create_connection(host_port: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        sock = socket.create_connection((address or host_port[0], host_port[1]), *args, **kwargs)
        sockets.append(sock)
        return sock

    connection._create_connection = create_connection  # type: ignore[attr-defined]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    expired = threading.Event()

    def abort() -> None:
        expired.set()
        for sock in reversed(sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(timeout, abort)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.connect()
        if connection.sock is not None:
            sockets.append(connection.sock)  # the TLS socket wrapping the TCP one
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
