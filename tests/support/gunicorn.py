"""Small load tools shared by the bench scripts and the gunicorn test:
start gunicorn on a socket bound to port 0, and fire N requests from C
concurrent clients (threads + http.client, one connection per request)."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.support.paths import ROOT


class GunicornServer:
    """gunicorn with ``workers`` sync workers on a free port of ``host`` (loopback).

    ``production_config=True`` starts it with the documented
    ``config/gunicorn.conf.py`` (the command line still sets the socket,
    workers and log level); ``extra_args`` are appended. ``root`` is the
    checkout it serves (its working directory; the bench serves an older
    commit's checkout next to this one); ``log_path`` collects the
    processes' output (the JSON log lines).
    """

    def __init__(
        self,
        *,
        env: dict[str, str],
        workers: int = 4,
        production_config: bool = False,
        extra_args: tuple[str, ...] = (),
        host: str = "127.0.0.1",
        root: Path = ROOT,
        stderr: Any = None,
        log_path: Path | None = None,
    ) -> None:
        self.host = host
        self.env = env
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(1024)
        self.port = self.listener.getsockname()[1]
        fd = self.listener.fileno()
        os.set_inheritable(fd, True)
        config = ["-c", str(root / "config" / "gunicorn.conf.py")] if production_config else []
        # With log_path, everything the master and workers write goes there.
        self.log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                *config,
                "config.wsgi:application",
                "--bind",
                f"fd://{fd}",
                "--workers",
                str(workers),
                "--backlog",
                "1024",
                "--log-level",
                "warning",
                "--timeout",
                "60",
                *extra_args,
            ],
            cwd=root,
            env={**os.environ, **env},
            pass_fds=(fd,),
            start_new_session=True,
            stdout=self.log,
            stderr=subprocess.STDOUT if self.log is not None else stderr,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                status = request(self.port, "GET", "/api/v1/health", host=self.host)[0]
                if status in (200, 503):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.listener.close()
        if self.log is not None:
            self.log.close()

    def __enter__(self) -> "GunicornServer":
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def request(
    port: int,
    method: str,
    path: str,
    body: dict | None = None,
    headers: dict | None = None,
    *,
    host: str = "127.0.0.1",
    timeout: float = 60,
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def fire(port: int, path: str, *, total: int = 1000, concurrency: int = 50) -> Counter:
    """Send ``total`` POSTs from ``concurrency`` threads; return a Counter of statuses."""

    def one(_: int) -> int:
        return request(port, "POST", path, {})[0]

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return Counter(pool.map(one, range(total)))


def server_env(
    *, database_url: str, redis_url: str, cache_prefix: str, root: Path = ROOT
) -> dict[str, str]:
    """The environment of a test or bench server serving the checkout at ``root``
    (DEBUG off). Without ``redis_url`` it runs on the local-memory cache, which
    production refuses unless told it is meant."""
    local_cache = {} if redis_url else {"GATEHOUSE_ALLOW_LOCAL_CACHE": "1"}
    return {
        **local_cache,
        "DJANGO_SETTINGS_MODULE": "tests.support.server_settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "GATEHOUSE_CACHE_PREFIX": cache_prefix,
        "DJANGO_SECRET_KEY": "bench-and-test-secret-key-" + "x" * 40,
        "GATEHOUSE_SIGNING_KEY": "bench-and-test-signing-key-" + "y" * 40,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONPATH": str(root),
        # Thousands of refusals would each log a line: keep the output to figures.
        "DJANGO_LOG_LEVEL": "ERROR",
        "GATEHOUSE_LOG_LEVEL": "WARNING",
    }
