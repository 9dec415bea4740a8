"""The documented production setup (nginx in front of gunicorn's sync workers,
``deploy/nginx.conf.template`` + ``config/gunicorn.conf.py``) survives slow
clients: with 200 connections sending their headers, or their bodies, one
byte at a time, health and a protected lookup from another client answer
within a second. (Eight such connections took gunicorn alone down for about a
minute; ``bench/slow_clients.py`` measures both setups.)"""

import http.client
import json
import os
import time
import uuid

import pytest

from tests.support.gunicorn import GunicornServer, server_env
from tests.support.nginx import NginxServer, nginx_available
from tests.support.servers import database_url
from tests.support.slowclients import SlowClients, loopback_sources

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]

CLEAN_SOURCE = "127.0.0.3"


@pytest.fixture
def production_stack(transactional_db, tmp_path):
    if not nginx_available():
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: .ci/run installs it (apt-get install nginx-light)")
        pytest.skip("needs nginx (apt-get install nginx-light)")
    env = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    env["GATEHOUSE_TRUSTED_PROXIES"] = "1"  # nginx on loopback is the one proxy
    with GunicornServer(env=env, workers=4, production_config=True) as app:
        with NginxServer(upstream=f"127.0.0.1:{app.port}", directory=tmp_path) as front:
            front.signing_key = env["GATEHOUSE_SIGNING_KEY"]
            yield front


def _timed(port: int, method: str, path: str, body: dict | None, headers: dict) -> tuple:
    started = time.monotonic()
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=5, source_address=(CLEAN_SOURCE, 0)
    )
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        connection.close()


@pytest.mark.parametrize("mode", ["headers", "body"])
def test_health_and_lookup_answer_within_a_second_under_200_slow_clients(
    production_stack, settings, make_api_key, make_session, mode
):
    # Keys and tokens made here must verify in the server processes.
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": production_stack.signing_key}
    key, raw = make_api_key()
    issued = make_session(key, client_ip=CLEAN_SOURCE)
    lookup_headers = {
        "Content-Type": "application/json",
        "X-Api-Key": raw,
        "Authorization": f"Bearer {issued.access}",
    }
    port = production_stack.port
    attack = SlowClients(
        host="127.0.0.1", port=port, count=200, mode=mode, sources=loopback_sources(20)
    )
    with attack:
        time.sleep(1.5)  # every attacker connected and dripping
        assert attack.opened >= 200
        for _ in range(4):
            status, took = _timed(port, "GET", "/api/v1/health", None, {})
            assert status == 200 and took < 1.0, (status, took)
            status, took = _timed(
                port, "POST", "/api/v1/persons/lookup", {"email": "a@example.com"}, lookup_headers
            )
            assert status == 200 and took < 1.0, (status, took)
            time.sleep(0.5)
