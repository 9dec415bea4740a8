"""Health follows PostgreSQL and Redis going down and coming back, without a restart.

Under the default cache-failure policy (``local``) a Redis outage leaves the
instance ready ("degraded"): it keeps serving on per-process counters.
"""

import json
import urllib.error
import urllib.request

import pytest
from django.db import connection

from tests.gunicorn_server import GunicornServer, server_env
from tests.support.servers import database_url
from tests.tcpproxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.server]


def get_health(base_url: str) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(base_url + "/api/v1/health", timeout=10) as response:
            return response.status, json.load(response), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers["Content-Type"]


def test_health_goes_503_and_back_to_200_as_services_stop_and_return(transactional_db):
    # pytest's migrated test database, through the proxy (the server refuses
    # to start on an unmigrated one).
    params = connection.settings_dict
    database_proxy = TcpProxy(params["HOST"] or "127.0.0.1", int(params["PORT"] or 5432)).start()
    cache_proxy = TcpProxy("127.0.0.1", 6379).start()
    env = server_env(
        database_url=database_url().replace(
            f"@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/",
            f"@127.0.0.1:{database_proxy.port}/",
        ),
        redis_url=f"redis://127.0.0.1:{cache_proxy.port}/15",
        cache_prefix="health-outage",
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
