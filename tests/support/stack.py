"""The documented production stack for system tests: nginx (rendered from
``deploy/nginx.conf.template``) in front of gunicorn (``config/gunicorn.conf.py``),
on the test's PostgreSQL database and its own Redis key prefix.

``production_stack(...)`` yields a ``Stack``: the nginx port, the gunicorn
server, the file gunicorn's output (its JSON log lines) goes to, nginx's
access log, and the signing key (set it in the test's settings so keys and
tokens made in the test process verify in the servers).
"""

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.gunicorn import GunicornServer, server_env
from tests.support.nginx import NginxServer, nginx_available
from tests.support.servers import database_url


@dataclass
class Stack:
    port: int  # nginx's
    app: GunicornServer
    front: NginxServer
    app_log: Path
    signing_key: str
    env: dict[str, str]

    @property
    def access_log(self) -> Path:
        return self.front.access_log


def require_nginx() -> None:
    if not nginx_available():
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: .ci/run installs it (apt-get install nginx-light)")
        pytest.skip("needs nginx (apt-get install nginx-light)")


@contextlib.contextmanager
def production_stack(
    directory: Path, *, env: dict[str, str] | None = None, workers: int = 4
) -> Iterator[Stack]:
    """nginx → gunicorn (production config, ``workers`` sync workers), DEBUG off.

    ``env`` is added to the servers' environment (``server_env`` plus
    ``GATEHOUSE_TRUSTED_PROXIES=1``: nginx is the one proxy).
    """
    require_nginx()
    server = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    server["GATEHOUSE_TRUSTED_PROXIES"] = "1"
    server.update(env or {})
    app_log = directory / "gunicorn.log"
    front_dir = directory / "nginx"
    front_dir.mkdir()
    with GunicornServer(
        env=server, workers=workers, production_config=True, log_path=app_log
    ) as app:
        with NginxServer(upstream=f"127.0.0.1:{app.port}", directory=front_dir) as front:
            yield Stack(
                port=front.port,
                app=app,
                front=front,
                app_log=app_log,
                signing_key=server["GATEHOUSE_SIGNING_KEY"],
                env=server,
            )
