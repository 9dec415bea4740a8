"""The challenge ladder end to end through gunicorn with four workers.

Each client names its address in ``X-Forwarded-For`` (the servers trust one
proxy hop); the network data is loaded, and its version published, before
the servers start (192.0.2.0/25 is a hosting network). Tokens are signed by
a test issuer (tests/support/pat.py). A clean client gets ``pow``; a client
from the hosting network, or with recent denials, the harder proof of work;
one with more denials the key's CAPTCHA; a hosting client with many denials
is refused 403 ``risk_too_high``; a valid Private Access Token lowers the
step. Every session start's tier is in its event, in /metrics and on the
dashboard.
"""

import json
import os

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from protection.core.events import SecurityEvent
from tests.support.challenges import solve
from tests.support.gunicorn import GunicornServer, server_env
from tests.support.netintel import load_sources
from tests.support.pat import PatIssuerKey, pat_challenges_parse
from tests.support.servers import database_url

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]

BASE = 1000  # POW_MAX_NUMBER on these servers
CAP = 64_000


class Caller:
    """One client: its address, the key it uses, optionally a Private Access Token."""

    def __init__(self, url: str, raw_key: str, ip: str) -> None:
        self.url, self.raw_key, self.ip = url, raw_key, ip

    def post(self, path: str, body: dict | None = None, *, token: str = "", key: str = ""):
        headers = {"X-Api-Key": key or self.raw_key, "X-Forwarded-For": self.ip}
        if token:
            headers["Authorization"] = f'PrivateToken token="{token}"'
        return requests.post(self.url + path, json=body, headers=headers, timeout=60)

    def challenge(self, *, token: str = ""):
        return self.post("/api/v1/challenges", token=token)

    def start(self, answer, *, token: str = "", **body):
        altcha = solve(answer.json()["altcha"])
        return self.post("/api/v1/sessions", {"altcha": altcha, **body}, token=token)

    def denials(self, times: int) -> None:
        for _ in range(times):  # an unknown key: 401, a denial of this address
            assert self.post("/api/v1/challenges", key="gh_pub_unknown").status_code == 401


def _data(answer) -> dict:
    return answer.json()["altcha"]["parameters"]["data"]


def _token(issuer: PatIssuerKey, answer) -> str:
    (challenge, _key), *_ = pat_challenges_parse(answer.headers["WWW-Authenticate"])
    return issuer.token(challenge)


def _scrape(url: str) -> dict[tuple[str, str, str], float]:
    body = requests.get(url + "/metrics", timeout=30).text
    values = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name in ("gatehouse_session_starts_total", "gatehouse_challenges_total"):
                values[sample.name, sample.labels["tier"], sample.labels["outcome"]] = sample.value
    return values


def test_each_client_is_asked_what_its_risk_calls_for(
    transactional_db, settings, tmp_path, make_api_key
):
    issuer = PatIssuerKey(name="issuer.example")
    env = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=settings.CACHES["default"]["KEY_PREFIX"],  # where the version is published
    )
    env.update(
        GATEHOUSE_TRUSTED_PROXIES="1",
        GATEHOUSE_PAT_ISSUERS=issuer.entry,
        GATEHOUSE_PUBLIC_BASE_URL="https://signup-api.example",
        GATEHOUSE_TEST_SETTINGS=json.dumps({"POW_MAX_NUMBER": BASE, "POW_MAX_NUMBER_CAP": CAP}),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    (tmp_path / "metrics").mkdir()
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": env["GATEHOUSE_SIGNING_KEY"]}
    load_sources(tmp_path / "netintel")
    _key, raw = make_api_key(name="ladder", captcha="turnstile")
    with GunicornServer(env=env, workers=4, extra_args=("-c", "config/gunicorn.conf.py")) as server:
        url = f"http://127.0.0.1:{server.port}"

        clean = Caller(url, raw, "203.0.113.10")
        answer = clean.challenge()
        assert answer.json()["requires"] == ["pow"]
        assert (_data(answer)["maxNumber"], _data(answer)["tier"]) == (BASE, "low")
        assert clean.start(answer).status_code == 201

        hosting = Caller(url, raw, "192.0.2.20")
        answer = hosting.challenge()
        assert answer.json()["requires"] == ["pow"]
        assert (_data(answer)["maxNumber"], _data(answer)["lvl"]) == (8 * BASE, 1)
        assert hosting.start(answer).status_code == 201

        denied = Caller(url, raw, "198.51.100.20")
        denied.denials(8)
        answer = denied.challenge()
        assert (_data(answer)["tier"], _data(answer)["lvl"]) == ("elevated", 1)
        assert _data(answer)["maxNumber"] > 8 * BASE
        assert denied.start(answer).status_code == 201

        # High: the key's CAPTCHA, or (with a valid token) the token instead.
        high = Caller(url, raw, "198.51.100.30")
        high.denials(15)
        answer = high.challenge()
        assert answer.json()["requires"] == ["pow", "turnstile"]
        assert answer.json()["requires_with_pat"] == ["pow", "pat"]
        refused = high.start(answer)
        assert (refused.status_code, refused.json()["code"]) == (403, "captcha_failed")
        assert refused.json()["requires"] == ["pow", "turnstile"]
        token = _token(issuer, refused)
        lighter = high.challenge(token=token)
        assert lighter.json()["requires"] == ["pow", "pat"]
        assert high.start(lighter, token=token).status_code == 201

        # Critical: refused at both steps, unless a token lifts it.
        critical = Caller(url, raw, "192.0.2.30")
        critical.denials(15)
        refused = critical.challenge()
        assert (refused.status_code, refused.json()["code"]) == (403, "risk_too_high")
        at_start = critical.post("/api/v1/sessions", {"altcha": "x"})
        assert (at_start.status_code, at_start.json()["code"]) == (403, "risk_too_high")
        token = _token(issuer, refused)
        answer = critical.challenge(token=token)
        assert answer.json()["requires"] == ["pow", "pat"]
        assert critical.start(answer, token=token).status_code == 201

        metrics = _scrape(url)

    issued = SecurityEvent.objects.filter(kind="session_issued").order_by("created_at")
    tiers = [event.details["risk"]["tier"] for event in issued]
    assert tiers == ["low", "elevated", "elevated", "high", "critical"]
    assert [event.details["risk"].get("pat_lowered", False) for event in issued] == [
        False, False, False, True, True,
    ]  # fmt: skip
    refusals = SecurityEvent.objects.filter(kind="risk_refused")
    assert {(e.reason, e.details["stage"]) for e in refusals} == {
        ("critical", "challenge"),
        ("critical", "session"),
    }

    def count(name: str, tier: str, outcome: str) -> float:
        return metrics.get((f"gatehouse_{name}_total", tier, outcome), 0.0)

    assert count("session_starts", "low", "issued") == 1
    assert count("session_starts", "elevated", "issued") == 2
    assert count("session_starts", "high", "issued") == 1
    assert count("session_starts", "high", "refused") == 1
    assert count("session_starts", "critical", "issued") == 1
    assert count("session_starts", "critical", "refused") == 1
    assert count("challenges", "critical", "refused") == 1
    assert count("challenges", "low", "issued") >= 1

    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw-1!"))
    page = staff.get("/admin/protection/securityevent/dashboard/").content.decode()
    table = page[page.index('id="session-tiers"') :]
    for row in (
        "<td>low</td><td>1</td><td>0</td>",
        "<td>elevated</td><td>2</td><td>0</td>",
        "<td>high</td><td>1</td><td>1</td>",
        "<td>critical</td><td>1</td><td>1</td>",
    ):
        assert row in table
