"""A ``SCRIPT_NAME`` request header cannot move a request past the protection.

gunicorn, by default, takes SCRIPT_NAME (and PATH_INFO) from request headers
sent by loopback peers, i.e. by the local reverse proxy, which passes on what
the client sent. ``request.path`` then differs from the routed path: the
protection used to decide "not an API request" and skip while the view still
ran (a blocked IP served, no per-IP budget, a >16 KiB body a 500). Two layers,
both tested with real gunicorn workers: the documented ``config/gunicorn.conf.py``
drops such headers, and the protection decides on the routed path anyway.
"""

import datetime
import json
import os
import time
import uuid

import pytest

from protection.blocks import block_create
from tests.support.gunicorn import GunicornServer, request, server_env
from tests.support.servers import database_url

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]


def _env() -> dict[str, str]:
    env = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    env["GATEHOUSE_TEST_RATE_LIMITS"] = json.dumps({"proof": {"ip": ["3/h"]}})
    # A block made by the test reaches the workers within a fraction of a second.
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps({"BLOCKS_MAX_AGE": 0.2})
    return env


def test_documented_gunicorn_config_trusts_no_path_header(transactional_db):
    with GunicornServer(env=_env(), workers=1, production_config=True) as server:
        # Trusted, SCRIPT_NAME=/api would route /v1/health: a 404.
        status, _ = request(server.port, "GET", "/api/v1/health", headers={"SCRIPT_NAME": "/api"})
        assert status == 200
        # Trusted, /x/api/test/proof would reach the view with path /x/api/...
        status, _ = request(
            server.port, "POST", "/x/api/test/proof", {}, headers={"SCRIPT_NAME": "/x"}
        )
        assert status == 404


def test_protection_applies_whatever_script_name_says(transactional_db):
    # gunicorn's defaults (SCRIPT_NAME trusted from loopback): the app itself must hold.
    with GunicornServer(env=_env(), workers=2) as server:
        spoofed = {"SCRIPT_NAME": "/x"}
        statuses = [
            request(server.port, "POST", "/x/api/test/proof", {}, headers=spoofed)[0]
            for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 429, 429]

        big = {"full_name": "x" * 20_000}
        status, body = request(server.port, "POST", "/x/api/v1/persons", big, headers=spoofed)
        assert status == 413
        assert json.loads(body)["code"] == "payload_too_large"

        block_create(
            kind="ip", value="127.0.0.1", reason="test", duration=datetime.timedelta(hours=1)
        )
        deadline = time.monotonic() + 10
        while request(server.port, "POST", "/api/test/proof", {})[0] != 403:
            assert time.monotonic() < deadline, "the block never took effect"
            time.sleep(0.2)
        status, body = request(server.port, "POST", "/x/api/test/proof", {}, headers=spoofed)
        assert status == 403
        assert json.loads(body)["code"] == "blocked"
