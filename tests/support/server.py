"""Start the real service under gunicorn for tests that need real processes."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_LIKE_ENV = {
    "DJANGO_SECRET_KEY": "test-server-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "GATEHOUSE_SIGNING_KEY": "test-server-signing-key-0123456789-abcdefghijklmnopqrstuvw",
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(
    *,
    env: dict[str, str],
    workers: int = 2,
    settings_module: str = "config.settings",
    ready_path: str = "/api/v1/health",
    timeout: float = 30,
) -> Iterator[str]:
    """Run gunicorn on a free port with ``env``; yield its base URL; stop it after."""
    port = free_port()
    process_env = {**os.environ, **PRODUCTION_LIKE_ENV, **env}
    process_env["DJANGO_SETTINGS_MODULE"] = settings_module
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{output}")
            try:
                urllib.request.urlopen(base_url + ready_path, timeout=2)  # noqa: S310
                break
            except urllib.error.HTTPError:
                break  # it answers: ready (health may be 503 on purpose)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
