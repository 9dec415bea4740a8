"""Health follows PostgreSQL and Redis going down and coming back, without a restart.

Under the default cache-failure policy (``local``) a Redis outage leaves the
instance ready ("degraded"): it keeps serving on per-process counters.
"""

import json
import os
import urllib.error
import urllib.request
import uuid

import pytest

from tests.support.gunicorn import GunicornServer, server_env
from tests.support.servers import database_url, url_address, url_via
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.server]


def get_health(base_url: str) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(base_url + "/api/v1/health", timeout=10) as response:
            return response.status, json.load(response), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers["Content-Type"]


def test_health_goes_503_and_back_to_200_as_services_stop_and_return(transactional_db):
    # The configured services (the test database, REDIS_URL's db), each
    # reached through a proxy the test can stop.
    database, cache = database_url(), os.environ["REDIS_URL"]
    database_proxy = TcpProxy(*url_address(database, 5432)).start()
    cache_proxy = TcpProxy(*url_address(cache, 6379)).start()
    env = server_env(
        database_url=url_via(database, host="127.0.0.1", port=database_proxy.port),
        redis_url=url_via(cache, host="127.0.0.1", port=cache_proxy.port),
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    try:
        with GunicornServer(env=env, workers=1) as server:
            base_url = f"http://127.0.0.1:{server.port}"
            assert get_health(base_url)[:2] == (
                200,
                {"status": "ok", "database": "ok", "cache": "ok"},
            )

            cache_proxy.stop()
            status, body, content_type = get_health(base_url)
            assert (status, body) == (
                200,
                {"status": "degraded", "database": "ok", "cache": "unavailable"},
            )

            cache_proxy.start()
            assert get_health(base_url)[0] == 200

            database_proxy.stop()
            status, body, content_type = get_health(base_url)
            assert (status, body["database"], body["cache"]) == (503, "unavailable", "ok")
            assert content_type == "application/problem+json"
            assert body["code"] == "service_unavailable"

            database_proxy.start()
            assert get_health(base_url)[:2] == (
                200,
                {"status": "ok", "database": "ok", "cache": "ok"},
            )
    finally:
        database_proxy.stop()
        cache_proxy.stop()
