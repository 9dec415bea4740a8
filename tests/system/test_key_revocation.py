"""A revoked key is refused on the next request on every worker (issue 23, point 8).

Four gunicorn workers serve lookups from eight clients while an operator's
process revokes the key. Each worker used to keep the key cached up to a
second: 119-259 lookups were admitted after the commit, the last 0.98 s
later. Now the keys version read in each request's round trip tells every
worker at once: no lookup sent after the revocation returned is admitted.
``bench/key_revocation.py`` prints the same figures.
"""

import json
import os
import uuid

import pytest

from tests.support.gunicorn import GunicornServer, server_env
from tests.support.revocation import revocation_gap
from tests.support.servers import database_url

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]

HUGE = "100000000/m"


@pytest.fixture
def server(transactional_db):
    env = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps(
        {
            "SIGNUP_LOOKUPS_PER_SESSION": 10**6,
            "SIGNUP_LOOKUP_IDENTIFIER_RATE": HUGE,
            "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": HUGE,
            "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": HUGE,
        }
    )
    env["GATEHOUSE_TEST_RATE_LIMITS"] = json.dumps(
        {
            "lookup": {"ip": [HUGE], "key": [HUGE], "session": [HUGE]},
            "session": {"ip": [HUGE]},
        }
    )
    with GunicornServer(env=env, workers=4) as running:
        yield running


def test_no_lookup_sent_after_the_revocation_is_admitted(server):
    gap = revocation_gap(server.port, {**os.environ, **server.env})
    assert gap.total > 50 and gap.refused > 0, gap
    assert gap.admitted_after == 0, gap
