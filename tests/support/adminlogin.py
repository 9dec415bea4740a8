"""Admin login attempts as a browser (or an attacker with one) makes them: load the
login page for its CSRF cookie and token, then post a username and password.
Shared by ``tests/system/test_admin_door.py`` and ``bench/admin_login_flood.py``.
"""

import http.client
import re
import secrets
import statistics
import threading
import time
from collections import Counter
from urllib.parse import urlencode

LOGIN = "/admin/login/"
_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def _request(
    port: int, source: str, method: str, path: str, headers: dict, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(source, 0)
    )
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        cookies = {}
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                cookies[key] = rest.split(";", 1)[0]
        return response.status, cookies, response.read()
    finally:
        connection.close()


def admin_login(port: int, *, source: str, username: str, password: str) -> int:
    """One login attempt from ``source``; the status of the POST (or of the page, if
    the page itself was refused)."""
    status, cookies, page = _request(port, source, "GET", LOGIN, {})
    token = _TOKEN.search(page)
    if status != 200 or token is None or "csrftoken" not in cookies:
        return status
    body = urlencode(
        {
            "csrfmiddlewaretoken": token.group(1).decode(),
            "username": username,
            "password": password,
            "next": "/admin/",
        }
    ).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={cookies['csrftoken']}",
    }
    return _request(port, source, "POST", LOGIN + "?next=/admin/", headers, body)[0]


class LoginFlood:
    """``streams`` threads posting random usernames and passwords as fast as they are
    answered, until stopped. Stream ``s`` sends from 127.<100+s>.x.y: with
    ``rotate``, a new address for every attempt (as an attacker rotating
    through its addresses), else always 127.<100+s>.0.1."""

    def __init__(self, port: int, *, streams: int, rotate: bool = True) -> None:
        self.port = port
        self.rotate = rotate
        self.statuses: Counter = Counter()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(stream,), daemon=True)
            for stream in range(streams)
        ]

    def _source(self, stream: int, attempt: int) -> str:
        if not self.rotate:
            return f"127.{100 + stream}.0.1"
        return f"127.{100 + stream}.{attempt // 250 % 250}.{attempt % 250 + 1}"

    def _run(self, stream: int) -> None:
        attempt = 0
        while not self.stop.is_set():
            try:
                status = admin_login(
                    self.port,
                    source=self._source(stream, attempt),
                    username=f"admin{secrets.token_hex(3)}",
                    password=secrets.token_urlsafe(12),
                )
            except OSError:
                status = 0
            self.statuses[status] += 1
            attempt += 1

    def __enter__(self) -> "LoginFlood":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def health_latencies(port: int, *, source: str, seconds: float, every: float = 0.1) -> list[float]:
    """``GET /api/v1/health`` from ``source`` every ``every`` s for ``seconds``: answer times."""
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            status = _request(port, source, "GET", "/api/v1/health", {})[0]
        except OSError:
            status = 0
        if status == 200:
            times.append(time.monotonic() - started)
        time.sleep(every)
    return times


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000 if times else float("nan")
