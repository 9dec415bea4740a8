"""The sign-up farm simulation (bench/farm.py) through gunicorn with four workers,
with deploy/policy/strict.toml: the issue's targets hold.

The key requires no evidence (``--require none``), and neither its network
policy nor its challenge ladder asks for any (``--network-policy`` allowing
every class, ``--ladder off``): this test is about identity velocity and the
per-AS limits, not proof of work. The network
data is loaded, and its version published, before the servers start; the
servers trust one proxy hop, so each account names its address in
``X-Forwarded-For``.
"""

import os

import pytest

from bench.farm import (
    FARM_KEY_NETWORK_POLICY,
    STRICT,
    create_rates,
    farm_cohorts,
    farm_judge,
    farm_report,
    farm_run,
    farm_server_env,
    farm_sources,
)
from tests.support.gunicorn import GunicornServer
from tests.support.netintel import load_sources
from tests.support.servers import database_url

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]


def test_the_farm_is_held_and_every_clean_client_gets_in(
    transactional_db, settings, tmp_path, make_api_key
):
    env = farm_server_env(
        database_url(),
        os.environ["REDIS_URL"],
        cache_prefix=settings.CACHES["default"]["KEY_PREFIX"],  # where the version is published
        policy=STRICT,
    )
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": env["GATEHOUSE_SIGNING_KEY"]}
    load_sources(tmp_path / "netintel", **farm_sources())
    _key, raw = make_api_key(
        name="farm",
        required_verifications=[],
        network_policy=FARM_KEY_NETWORK_POLICY,
        challenge_ladder="off",
    )
    with GunicornServer(env=env, workers=4) as server:
        results, seconds = farm_run(server.port, raw, farm_cohorts(run="ci"))
    missed = farm_judge(results, create_rates(STRICT), seconds)
    print("\n" + farm_report(results, seconds))
    assert missed == []
    by_name = {result.cohort.name: result for result in results}
    # The identity budgets admit exactly their limit, whatever the run's length
    # (a day's window): three accounts per inbox, five per device.
    assert by_name["gmail-variants"].admitted == 3
    assert by_name["one-device"].admitted == 5
    assert set(by_name["gmail-variants"].refused_by) == {"429 mailbox"}
    assert set(by_name["one-device"].refused_by) == {"429 device"}
    for name in ("hosting", "one-asn"):
        assert set(by_name[name].refused_by) == {"429 asn"}
        assert 20 <= by_name[name].admitted <= by_name[name].allowance
    assert by_name["clean"].admitted == by_name["clean"].attempted == 72
