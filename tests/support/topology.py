"""Shared pieces of the topology tests (tests/system): caches, lookups, traffic."""

import http.client
import json
import shutil
import threading
import time
from collections import Counter
from typing import Any

import pytest

LIFTED_LOOKUP_LIMITS = {
    "SIGNUP_LOOKUPS_PER_SESSION": 10**6,
    "SIGNUP_LOOKUP_IDENTIFIER_RATE": "1000000/h",
    "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": "1000000/h",
    "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": "1000000/h",
}


def need_binary(name: str) -> str:
    """The path of ``name``, or skip saying which package brings it (.ci/run installs it)."""
    found = shutil.which(name) or (
        f"/usr/lib/postgresql/15/bin/{name}"
        if shutil.which(f"/usr/lib/postgresql/15/bin/{name}")
        else None
    )
    if found is None:
        pytest.skip(f"{name} is not installed (apt-get install {_PACKAGES.get(name, name)})")
    return found


_PACKAGES = {
    "redis-server": "redis-server",
    "redis-cli": "redis-tools",
    "pgbouncer": "pgbouncer",
    "initdb": "postgresql-15",
    "pg_basebackup": "postgresql-15",
    "pg_ctl": "postgresql-15",
}


def cache_settings(url: str, mode: str, **options: Any) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "protection.core.rediscache.GatehouseRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "gh",
            "OPTIONS": {
                "mode": mode,
                "socket_connect_timeout": 0.25,
                "socket_timeout": 0.25,
                **options,
            },
        }
    }


def call(port: int, method: str, path: str, body: Any = None, headers: Any = None) -> tuple:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(
            method, path, body=payload,
            headers={"Content-Type": "application/json", **(headers or {})},
        )  # fmt: skip
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def lookup(port: int, raw_key: str, access: str, email: str = "ada@example.com") -> tuple:
    return call(
        port, "POST", "/api/v1/persons/lookup", {"email": email},
        {"X-Api-Key": raw_key, "Authorization": f"Bearer {access}"},
    )  # fmt: skip


class Traffic:
    """Threads sending ``send()`` until stopped; each status with the second it was answered."""

    def __init__(self, send, threads: int = 6) -> None:
        self.send = send
        self.threads = [threading.Thread(target=self._run) for _ in range(threads)]
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.log: list[tuple[float, int]] = []  # (seconds since start when answered, status)
        self.started = 0.0

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                status = self.send()
            except OSError:
                status = 0  # no answer at all
            with self.lock:
                self.log.append((time.monotonic() - self.started, status))

    def __enter__(self) -> "Traffic":
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def statuses(self, since: float = 0.0, until: float = 1e9) -> Counter:
        with self.lock:
            return Counter(status for at, status in self.log if since <= at < until)
