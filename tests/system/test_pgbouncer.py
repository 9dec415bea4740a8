"""PgBouncer in transaction pooling in front of PostgreSQL, with the documented
settings (DATABASE_POOLING=transaction: no server-side cursors, no prepared
statements), on real processes: 4 gunicorn workers share 2 server
connections, and lookups, creates and block-list reloads (an iterator over
the blocks) all succeed. The suite itself runs through PgBouncer too
(.ci/run, second pass).
"""

import json
import os
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from tests.support.gunicorn import GunicornServer, server_env
from tests.support.pgtopo import PgBouncer, TempRoot
from tests.support.topology import LIFTED_LOOKUP_LIMITS, call, lookup, need_binary

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def bouncer(transactional_db):
    need_binary("pgbouncer")
    root = TempRoot("gh-pgbouncer-")
    params = connection.settings_dict
    running = PgBouncer(
        root, host=params.get("HOST") or "127.0.0.1", port=int(params.get("PORT") or 5432),
        pool_size=2,
    ).start()  # fmt: skip
    try:
        yield running
    finally:
        running.stop()
        root.remove()


def test_four_workers_through_two_pooled_connections(bouncer, settings, make_api_key, make_session):
    name = connection.settings_dict["NAME"]
    env = server_env(
        database_url=f"postgres://postgres@127.0.0.1:{bouncer.port}/{name}",
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh{uuid.uuid4().hex[:8]}",
    )
    env["DATABASE_POOLING"] = "transaction"
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps(
        {**LIFTED_LOOKUP_LIMITS, "RATE_LIMITS": {}, "SIGNUP_CREATES_PER_SESSION": 1000,
         "SIGNUP_CREATE_IP_RATE": "100000/d", "BLOCKS_MAX_AGE": 0}
    )  # fmt: skip
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": env["GATEHOUSE_SIGNING_KEY"]}
    key, raw = make_api_key()
    issued = make_session(key, client_ip="127.0.0.1")
    bearer = {"X-Api-Key": raw, "Authorization": f"Bearer {issued.access}"}
    with GunicornServer(env=env, workers=4) as server:

        def one(index):
            if index % 4 == 0:
                body = {"email": f"p{index}@example.com", "full_name": "Ada Lovelace"}
                return call(server.port, "POST", "/api/v1/persons", body, bearer)[0]
            return lookup(server.port, raw, issued.access, f"p{index - 1}@example.com")[0]

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = Counter(pool.map(one, range(400)))
    print(f"\nthrough PgBouncer (pool of 2 server connections): {dict(statuses)}")
    assert statuses == Counter({201: 100, 200: 300})
