"""A fraud label reaches every worker on the next request, and a legit label lifts it.

Real processes: 4 gunicorn workers on PostgreSQL and Redis, behind a trusted
proxy hop (X-Forwarded-For) so clients can come from documentation addresses.
A person signs up from 203.0.113.7 on an Approov-attested device; the operator
runs ``manage.py label_person --fraud`` with the server's environment. The
next requests, spread over the workers on fresh connections: the creating
session, another session of the same device, a new session of that device and
the creating address are refused; a stranger is not. ``--legit`` lifts it all.
"""

import base64
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from protection.keys import api_key_create
from tests.support.gunicorn import GunicornServer, request, server_env
from tests.support.paths import ROOT
from tests.support.servers import database_url
from tests.support.signupflow import approov_token

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]

APPROOV_SECRET = os.urandom(32)
DEVICE = "ZGV2aWNlLWZyYXVk"
FRESH = 40  # requests on fresh connections: every one of 4 workers takes some


@pytest.fixture
def server(transactional_db, settings):
    env = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    huge = "100000000/m"
    env["GATEHOUSE_TRUSTED_PROXIES"] = "1"  # loopback is a trusted proxy network
    env["GATEHOUSE_APPROOV_SECRET"] = base64.urlsafe_b64encode(APPROOV_SECRET).decode()
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps(
        {
            "SIGNUP_LOOKUPS_PER_SESSION": 10**6,
            "SIGNUP_LOOKUP_IDENTIFIER_RATE": huge,
            "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": huge,
            "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": huge,
        }
    )
    limits = {"ip": ["100000/m"], "key": ["100000/m"]}
    env["GATEHOUSE_TEST_RATE_LIMITS"] = json.dumps(
        {
            "challenge": limits,
            "session": limits,
            "lookup": {**limits, "session": ["100000/m"]},
            "create": {**limits, "session": ["100000/m"]},
        }
    )
    # Keys made here must verify there: the same signing key (and pepper).
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": env["GATEHOUSE_SIGNING_KEY"]}
    with GunicornServer(env=env, workers=4) as running:
        yield running


def _from(address: str, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, **headers}


def _session(port: int, raw: str, address: str, device: str) -> str:
    token = approov_token(APPROOV_SECRET, raw_key=raw, device=device)
    status, body = request(
        port,
        "POST",
        "/api/v1/sessions",
        {},
        _from(address, **{"X-Api-Key": raw, "Approov-Token": token}),
    )
    assert status == 201, body
    return json.loads(body)["access"]


def _spread(one, total: int = FRESH) -> Counter:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return Counter(pool.map(one, range(total)))


def _lookups(port: int, raw: str, access: str, address: str) -> Counter:
    headers = _from(address, **{"X-Api-Key": raw, "Authorization": f"Bearer {access}"})

    def one(index: int) -> int:
        body = {"email": f"probe{index}@example.com"}
        return request(port, "POST", "/api/v1/persons/lookup", body, headers)[0]

    return _spread(one)


def _device_sessions(port: int, raw: str, address: str) -> Counter:
    def one(_: int) -> int:
        token = approov_token(APPROOV_SECRET, raw_key=raw, device=DEVICE)
        headers = _from(address, **{"X-Api-Key": raw, "Approov-Token": token})
        return request(port, "POST", "/api/v1/sessions", {}, headers)[0]

    return _spread(one)


def _challenges(port: int, raw: str, address: str) -> Counter:
    headers = _from(address, **{"X-Api-Key": raw})
    return _spread(lambda _: request(port, "POST", "/api/v1/challenges", None, headers)[0])


def _label(server: GunicornServer, person_id: str, flag: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "label_person", person_id, flag, "--reason", "system test"],
        cwd=ROOT,
        env={**os.environ, **server.env},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def test_a_fraud_label_blocks_session_device_and_address_on_every_worker_and_legit_lifts(
    server,
):
    port = server.port
    _key, raw = api_key_create(name="labels", required_verifications=["approov"])
    creating = _session(port, raw, "203.0.113.7", DEVICE)
    status, body = request(
        port,
        "POST",
        "/api/v1/persons",
        {"email": "mallory@example.com", "full_name": "Mallory"},
        _from("203.0.113.7", **{"X-Api-Key": raw, "Authorization": f"Bearer {creating}"}),
    )
    assert status == 201, body
    person_id = json.loads(body)["id"]
    # The same device, another session from elsewhere; and a stranger.
    same_device = _session(port, raw, "198.51.100.20", DEVICE)
    stranger = _session(port, raw, "192.0.2.50", "c3RyYW5nZXI=")
    # Every worker has the block list loaded before the label.
    assert _lookups(port, raw, creating, "198.51.100.9") == Counter({200: FRESH})
    assert _lookups(port, raw, same_device, "198.51.100.20") == Counter({200: FRESH})

    output = _label(server, person_id, "--fraud")
    assert "blocked session" in output and "blocked device" in output and "blocked ip" in output

    # The very next requests, whichever worker takes them.
    assert _lookups(port, raw, creating, "198.51.100.9") == Counter({403: FRESH})
    assert _lookups(port, raw, same_device, "198.51.100.20") == Counter({403: FRESH})
    assert _device_sessions(port, raw, "198.51.100.21") == Counter({403: FRESH})
    assert _challenges(port, raw, "203.0.113.7") == Counter({403: FRESH})
    assert _lookups(port, raw, stranger, "192.0.2.50") == Counter({200: FRESH})

    output = _label(server, person_id, "--legit")
    assert output.count("lifted block") == 3

    assert _lookups(port, raw, creating, "198.51.100.9") == Counter({200: FRESH})
    assert _lookups(port, raw, same_device, "198.51.100.20") == Counter({200: FRESH})
    assert _device_sessions(port, raw, "198.51.100.21") == Counter({201: FRESH})
    assert _challenges(port, raw, "203.0.113.7") == Counter({201: FRESH})
