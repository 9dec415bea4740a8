"""Nothing counted in memory is lost when a gunicorn worker exits (issue 23, points 7
and 10), with the production config's hooks and 4 sync workers.

A burst of refusals is added up per worker (the write budget is 0 here, so
every denial waits in memory, as past the budget under a real flood); then
the workers exit: a graceful reload (SIGHUP) or max_requests recycling. Every
429 the clients saw must be in the audit log. It used to lose 296 of 3,000
across a reload and 105 with recycling. Recycled workers' metric files are
folded into archives instead of piling up.
"""

import json
import os
import signal
import time
import uuid

import pytest
from django.db.models import Sum

from protection.core.events import SecurityEvent
from tests.support.gunicorn import GunicornServer, fire, request, server_env
from tests.support.servers import database_url

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]


def _env(**settings):
    env = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps({"EVENTS_MAX_WRITES_PER_SECOND": 0, **settings})
    return env


def _logged() -> int:
    rows = SecurityEvent.objects.filter(kind="rate_limited", decision="deny")
    return rows.aggregate(n=Sum("count"))["n"] or 0


def _wait_for(expected: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while (found := _logged()) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_denials_survive_a_graceful_reload(transactional_db):
    # An interval longer than the test: only the exit flush can write them.
    env = _env(EVENTS_FLUSH_INTERVAL=3600)
    with GunicornServer(env=env, workers=4, production_config=True) as server:
        statuses = fire(server.port, "/api/test/proof", total=1500, concurrency=20)
        refused = statuses[429]
        assert refused >= 1400
        time.sleep(1)
        assert _logged() < refused  # still in the workers' memory
        os.kill(server.process.pid, signal.SIGHUP)  # new workers; the old ones exit
        assert _wait_for(refused) == refused
        assert request(server.port, "GET", "/api/v1/health")[0] == 200


def test_the_idle_timer_writes_them_without_another_request(transactional_db):
    env = _env(EVENTS_FLUSH_INTERVAL=0.5)
    with GunicornServer(env=env, workers=4, production_config=True) as server:
        refused = fire(server.port, "/api/test/proof", total=600, concurrency=20)[429]
        assert _wait_for(refused, timeout=10) == refused  # no request after the burst


def test_recycled_workers_lose_no_denial_and_leave_no_metric_files(transactional_db, tmp_path):
    env = _env(EVENTS_FLUSH_INTERVAL=3600)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    recycle = ("--max-requests", "60", "--max-requests-jitter", "0")
    with GunicornServer(env=env, workers=4, production_config=True, extra_args=recycle) as server:
        refused = fire(server.port, "/api/test/proof", total=1200, concurrency=20)[429]
        # Recycled workers wrote theirs at exit; the live ones write theirs at shutdown.
        server.stop()
    assert _wait_for(refused) == refused
    leftovers = sorted(p.name for p in tmp_path.glob("*.db") if "archive" not in p.name)
    assert leftovers == [], leftovers
