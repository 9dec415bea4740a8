"""A DPoP proof is accepted once across processes: 4 gunicorn workers sharing
Redis, the same proof sent concurrently and again afterwards. With a
per-process jti store (local memory) every worker would accept it once."""

import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.dpop import BASE_URL, DpopClient
from tests.support.gunicorn import GunicornServer, request, server_env
from tests.support.servers import database_url

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]

PATH = "/api/test/dpop"


@pytest.fixture
def server(transactional_db):
    env = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    env["GATEHOUSE_PUBLIC_BASE_URL"] = BASE_URL
    with GunicornServer(env=env, workers=4) as running:
        yield running


def _send(port: int, proof: str) -> dict:
    status, body = request(port, "POST", PATH, {}, {"DPoP": proof})
    assert status == 200, body
    return json.loads(body)


def test_a_proof_replayed_on_other_workers_is_refused(server):
    client = DpopClient()
    proof = client.proof(url=BASE_URL + PATH)
    answers: list[dict] = []
    # Concurrent bursts of the same proof until some worker other than the one
    # that accepted it has refused it (on a loaded machine one worker may take
    # a whole burst); never more than one acceptance in all of them.
    with ThreadPoolExecutor(max_workers=16) as pool:
        for _ in range(20):
            answers += pool.map(lambda _: _send(server.port, proof), range(32))
            accepted = [body for body in answers if body["code"] == "accepted"]
            refused = [body for body in answers if body["code"] != "accepted"]
            if accepted and {body["pid"] for body in refused} - {accepted[0]["pid"]}:
                break
    assert len(accepted) == 1
    assert {body["code"] for body in refused} == {"dpop_replayed"}
    # The refusals came from other processes too, or this proves nothing about
    # the store being shared.
    assert {body["pid"] for body in refused} - {accepted[0]["pid"]}

    # A fresh proof from the same key is fine: only the jti is spent.
    assert _send(server.port, client.proof(url=BASE_URL + PATH))["code"] == "accepted"
