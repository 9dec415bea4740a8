"""Multiprocess metrics under real gunicorn: a scrape counts every worker's refusals."""

import os
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.gunicorn import GunicornServer, fire, request, server_env
from tests.support.servers import database_url

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]


def _refused_in_scrape(port: int) -> float:
    status, body = request(port, "GET", "/metrics")
    assert status == 200, body[:300]
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "gatehouse_rate_limited_total" and sample.labels == {
                "group": "proof",
                "dimension": "ip",
            }:
                return sample.value
    return 0.0


def test_every_workers_refusals_are_in_every_scrape(transactional_db, tmp_path):
    env = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    with GunicornServer(env=env, workers=4, extra_args=("-c", "config/gunicorn.conf.py")) as server:
        statuses = fire(server.port, "/api/test/proof", total=300, concurrency=20)
        assert statuses[200] == 100 and statuses[429] == 200
        # Scrapes land on different workers; each must add up all four.
        assert [_refused_in_scrape(server.port) for _ in range(8)] == [200.0] * 8
