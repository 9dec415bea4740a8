"""One siteverify client for every CAPTCHA provider (reCAPTCHA, Turnstile, hCaptcha).

``siteverify_post`` POSTs a form to a provider's siteverify URL and returns
its JSON answer within a total deadline for the whole exchange: connect,
send, headers and body. A per-read timeout is not enough (an answer dripping
one byte every two seconds held a worker until gunicorn killed it), so a
watchdog shuts the socket down when the deadline passes.

Each provider has its own circuit breaker in each process
(``siteverify_breaker``): after CAPTCHA_BREAKER_FAILURES failures in a row
(timeouts, network errors, non-200 answers, nonsense) the provider is not
asked for CAPTCHA_BREAKER_PAUSE seconds, and every verification in between
is answered at once as unavailable (then fail-open or fail-closed, as the
provider's setting says). An outage then costs one deadline per pause, not
one per request. One success closes the breaker again.
"""

import http.client
import json
import socket
import ssl
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings

MAX_ANSWER_BYTES = 64 * 1024  # the providers' answers are a few hundred bytes


class SiteverifyUnavailable(Exception):
    """siteverify did not answer in time, or not with a JSON object, or is paused."""


def _shutdown(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked in another thread
        except OSError:
            pass


def _connection(url: str, deadline: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SiteverifyUnavailable(f"not an http(s) URL: {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if parts.scheme == "https":
        context = ssl.create_default_context()
        return http.client.HTTPSConnection(parts.netloc, timeout=deadline, context=context), path
    return http.client.HTTPConnection(parts.netloc, timeout=deadline), path


def siteverify_post(*, url: str, form: dict[str, str], deadline: float) -> dict[str, Any]:
    """POST ``form`` to ``url`` and return its JSON answer, all within ``deadline`` seconds.

    Raises SiteverifyUnavailable for a timeout, a network or TLS error, a
    non-200 status or a body that is not a JSON object with ``success``.
    """
    started = time.monotonic()
    connection, path = _connection(url, deadline)
    watchdog = threading.Timer(deadline, _shutdown, args=(connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(
            "POST",
            path,
            body=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "gatehouse",
            },
        )
        response = connection.getresponse()
        body = response.read(MAX_ANSWER_BYTES + 1)
        if time.monotonic() - started >= deadline:
            raise SiteverifyUnavailable("deadline passed")
        if response.status != 200 or len(body) > MAX_ANSWER_BYTES:
            raise SiteverifyUnavailable(f"status {response.status}")
        data = json.loads(body)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise SiteverifyUnavailable(exc.__class__.__name__) from exc
    finally:
        watchdog.cancel()
        connection.close()
    if not isinstance(data, dict) or "success" not in data:
        raise SiteverifyUnavailable("not a siteverify answer")
    return data


class _Breakers:
    """Per-process, per-provider count of failures in a row and pause end."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures: dict[str, int] = {}
        self.paused_until: dict[str, float] = {}

    def reset(self) -> None:
        with self.lock:
            self.failures.clear()
            self.paused_until.clear()


_breakers = _Breakers()
process_state_register("siteverify breakers", _breakers.reset)


def siteverify_breaker_open(provider: str, *, now: float | None = None) -> bool:
    """True while ``provider`` is paused after failures in a row (not asked at all)."""
    now = time.monotonic() if now is None else now
    with _breakers.lock:
        return _breakers.paused_until.get(provider, 0.0) > now


def siteverify_outcome_record(provider: str, *, ok: bool, now: float | None = None) -> None:
    """Count a failure (pausing ``provider`` at the threshold) or close the breaker."""
    now = time.monotonic() if now is None else now
    with _breakers.lock:
        if ok:
            _breakers.failures.pop(provider, None)
            _breakers.paused_until.pop(provider, None)
            return
        failures = _breakers.failures.get(provider, 0) + 1
        _breakers.failures[provider] = failures
        if failures >= max(1, int(gatehouse_settings.CAPTCHA_BREAKER_FAILURES)):
            _breakers.failures[provider] = 0
            pause = float(gatehouse_settings.CAPTCHA_BREAKER_PAUSE)
            _breakers.paused_until[provider] = now + pause


def siteverify_ask(
    *, provider: str, url: str, form: dict[str, str], deadline: float
) -> dict[str, Any]:
    """``siteverify_post`` behind ``provider``'s breaker: raises SiteverifyUnavailable
    at once while the breaker is open, and counts every outcome."""
    if siteverify_breaker_open(provider):
        raise SiteverifyUnavailable("paused after repeated failures")
    try:
        data = siteverify_post(url=url, form=form, deadline=deadline)
    except SiteverifyUnavailable:
        siteverify_outcome_record(provider, ok=False)
        raise
    siteverify_outcome_record(provider, ok=True)
    return data
