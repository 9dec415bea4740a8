"""Proof under concurrency: 4 gunicorn workers on PostgreSQL and Redis,
1,000 requests from 50 concurrent clients at an endpoint limited to 100:
exactly 100 are admitted. Once per counting path (``get_usage`` one
counter at a time, and the default Lua script, ``RATE_LIMIT_BATCH``)."""

import os
import uuid

import pytest

from tests.support.gunicorn import GunicornServer, fire, server_env
from tests.support.servers import database_url

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture(params=["get_usage", "batch"])
def server(request, transactional_db):
    env = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",  # fresh counters for this run
    )
    env["GATEHOUSE_TEST_RATE_LIMIT_BATCH"] = "1" if request.param == "batch" else "0"
    with GunicornServer(env=env, workers=4) as running:
        yield running


def test_exactly_100_of_1000_concurrent_requests_are_admitted(server):
    statuses = fire(server.port, "/api/test/proof", total=1000, concurrency=50)
    assert statuses[200] == 100
    assert statuses[429] == 900
    assert sum(statuses.values()) == 1000
