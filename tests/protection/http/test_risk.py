"""The challenge ladder through the HTTP API: what each client is asked at
``POST /api/v1/challenges`` and required at ``POST /api/v1/sessions``, how the
two agree, what a refusal says, and what is recorded (events, metrics)."""

import pytest
from prometheus_client import REGISTRY

from protection.core.events import SecurityEvent
from protection.sessions import AnonymousSession
from tests.support.challenges import easy_pow_fixture, solve  # noqa: F401
from tests.support.pat import PatIssuerKey, pat_challenges_parse

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("easy_pow")]

CLEAN_IP = "203.0.113.7"
HOSTING_IP = "192.0.2.20"  # with the network data: AS 64500, a hosting network
BASE = 400  # easy_pow's POW_MAX_NUMBER; the cap is 6400


@pytest.fixture
def network_data(tmp_path, django_capture_on_commit_callbacks):
    from tests.support.netintel import load_sources

    with django_capture_on_commit_callbacks(execute=True):
        load_sources(tmp_path / "netintel")


@pytest.fixture(scope="module")
def issuer():
    return PatIssuerKey(name="issuer.example")


@pytest.fixture
def pat_issuer(settings, issuer):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "PAT_ISSUERS": [issuer.entry],
        "PUBLIC_BASE_URL": "https://signup-api.example",
    }
    return issuer


def challenge(client, raw, ip=CLEAN_IP, token=None):
    headers = {"HTTP_AUTHORIZATION": f'PrivateToken token="{token}"'} if token else {}
    return client.post("/api/v1/challenges", HTTP_X_API_KEY=raw, REMOTE_ADDR=ip, **headers)


def start(client, raw, ip=CLEAN_IP, token=None, **body):
    headers = {"HTTP_AUTHORIZATION": f'PrivateToken token="{token}"'} if token else {}
    return client.post(
        "/api/v1/sessions", body, format="json", HTTP_X_API_KEY=raw, REMOTE_ADDR=ip, **headers
    )


def solved(client, raw, ip=CLEAN_IP, token=None):
    answer = challenge(client, raw, ip, token)
    assert answer.status_code == 201, answer.content
    return solve(answer.json()["altcha"])


def deny(client, ip, times):
    """``times`` recent denials of ``ip`` (an unknown API key, each a 401)."""
    for _ in range(times):
        assert challenge(client, "gh_pub_not-a-key", ip).status_code == 401


def data(answer):
    return answer.json()["altcha"]["parameters"]["data"]


def issued_events():
    return SecurityEvent.objects.filter(kind="session_issued").order_by("created_at")


def test_a_clean_client_is_asked_for_its_keys_floor(client, make_api_key):
    key, raw = make_api_key()
    answer = challenge(client, raw)
    assert answer.json()["requires"] == ["pow"]
    assert answer.json()["requires_with_pat"] is None
    assert (data(answer)["maxNumber"], data(answer)["tier"]) == (BASE, "low")
    assert "lvl" not in data(answer)
    assert start(client, raw, altcha=solve(answer.json()["altcha"])).status_code == 201
    event = issued_events().get()
    assert event.details["risk"] == {
        "stage": "session",
        "tier": "low",
        "score": 0,
        "asked": ["pow"],
        "pow_level": 0,
        "challenge_tier": "low",
        "shown": ["pow"],
    }
    assert AnonymousSession.objects.get().start_signals["tier"] == "low"


def test_a_key_without_requirements_still_asks_nothing_of_a_clean_client(client, make_api_key):
    _key, raw = make_api_key(required_verifications=[])
    assert challenge(client, raw).json()["requires"] == []
    assert start(client, raw).status_code == 201


def test_a_client_from_a_hosting_network_gets_a_harder_proof_of_work(
    client, make_api_key, network_data
):
    _key, raw = make_api_key()
    answer = challenge(client, raw, HOSTING_IP)
    assert answer.json()["requires"] == ["pow"]  # pow_hard is pow, with a higher maxNumber
    fields = data(answer)
    assert (fields["maxNumber"], fields["lvl"], fields["tier"]) == (8 * BASE, 1, "elevated")
    assert start(client, raw, HOSTING_IP, altcha=solve(answer.json()["altcha"])).status_code == 201
    risk = issued_events().get().details["risk"]
    assert (risk["tier"], risk["score"], risk["pow_level"]) == ("elevated", 30, 1)
    # An easy challenge (from a clean address) does not do from the hosting network.
    easy = solved(client, raw, CLEAN_IP)
    refused = start(client, raw, HOSTING_IP, altcha=easy)
    assert (refused.status_code, refused.json()["code"]) == (403, "challenge_failed")
    assert refused.json()["requires"] == ["pow"]
    assert SecurityEvent.objects.filter(reason="pow_too_easy").exists()


def test_a_key_that_allows_the_network_explicitly_weighs_it_nothing(
    client, make_api_key, network_data
):
    _key, raw = make_api_key(network_policy={"hosting": "allow"})
    answer = challenge(client, raw, HOSTING_IP)
    assert (data(answer)["maxNumber"], data(answer)["tier"]) == (BASE, "low")


def test_recent_denials_climb_the_ladder(client, make_api_key):
    _key, raw = make_api_key(captcha="turnstile")
    deny(client, CLEAN_IP, 8)  # 32 points: elevated
    elevated = challenge(client, raw)
    assert (elevated.json()["requires"], data(elevated)["tier"]) == (["pow"], "elevated")
    assert data(elevated)["lvl"] == 1 and data(elevated)["maxNumber"] > 8 * BASE
    deny(client, CLEAN_IP, 7)  # 60: high, the key's CAPTCHA
    high = challenge(client, raw)
    assert high.json()["requires"] == ["pow", "turnstile"]
    assert high.json()["turnstile_action"] == "signup"
    assert data(high)["tier"] == "high"


def test_a_client_whose_risk_rose_is_asked_for_more_and_told_what(client, make_api_key):
    _key, raw = make_api_key(captcha="turnstile")
    easy = solved(client, raw)  # low
    deny(client, CLEAN_IP, 8)  # elevated since
    refused = start(client, raw, altcha=easy)
    assert (refused.status_code, refused.json()["code"]) == (403, "challenge_failed")
    assert refused.json()["requires"] == ["pow"]
    assert "request a new one" in refused.json()["detail"]
    assert "WWW-Authenticate" not in refused  # no PAT issuers: nothing lowers it
    # The new challenge is issued at the level asked: no loop.
    assert start(client, raw, altcha=solved(client, raw)).status_code == 201
    deny(client, CLEAN_IP, 7)  # high since: the key's CAPTCHA
    refused = start(client, raw, altcha=solved(client, raw, "198.51.100.77"))
    assert (refused.status_code, refused.json()["code"]) == (403, "captcha_failed")
    assert refused.json()["requires"] == ["pow", "turnstile"]


def test_never_asked_for_less_than_the_challenge_said(client, make_api_key):
    _key, raw = make_api_key(captcha="turnstile")
    deny(client, "198.51.100.9", 15)
    high = challenge(client, raw, "198.51.100.9")
    assert high.json()["requires"] == ["pow", "turnstile"]
    # The same solution from a clean address: the challenge's tier still holds.
    refused = start(client, raw, CLEAN_IP, altcha=solve(high.json()["altcha"]))
    assert (refused.status_code, refused.json()["code"]) == (403, "captcha_failed")
    assert refused.json()["requires"] == ["pow", "turnstile"]
    event = SecurityEvent.objects.get(kind="captcha_failed")
    assert (event.details["risk"]["tier"], event.details["risk"]["challenge_tier"]) == (
        "high",
        "high",
    )


def test_a_device_with_denials_is_asked_for_the_captcha_at_session_start(client, make_api_key):
    _key, raw = make_api_key(captcha="turnstile")
    for n in range(12):  # one device, failing from many addresses: 60 points
        answer = start(client, raw, f"198.51.100.{n + 1}", altcha="garbage", device_id="tab-1")
        assert answer.status_code == 403
    # A fresh address: the challenge cannot see the device, the session start can.
    answer = challenge(client, raw, "198.51.100.200")
    assert answer.json()["requires"] == ["pow"]
    refused = start(
        client, raw, "198.51.100.200", altcha=solve(answer.json()["altcha"]), device_id="tab-1"
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "captcha_failed")
    assert refused.json()["requires"] == ["pow", "turnstile"]
    # Never a harder proof of work than its challenge could know of: no loop.
    assert SecurityEvent.objects.filter(reason="pow_too_easy").count() == 0
    # Another device from that address is not concerned.
    other = start(client, raw, "198.51.100.200", altcha=solved(client, raw, "198.51.100.200"))
    assert other.status_code == 201


def test_a_critical_client_is_refused_at_both_steps(client, make_api_key, network_data):
    _key, raw = make_api_key()
    deny(client, HOSTING_IP, 15)  # hosting 30 + 60: critical
    refused = challenge(client, raw, HOSTING_IP)
    assert (refused.status_code, refused.json()["code"]) == (403, "risk_too_high")
    assert "WWW-Authenticate" not in refused  # no PAT issuers
    event = SecurityEvent.objects.get(kind="risk_refused")
    assert (event.decision, event.reason, event.details["stage"]) == (
        "deny",
        "critical",
        "challenge",
    )
    assert event.details["points"] == {"network_hosting": 30, "ip_denials": 60}
    assert event.details["risk"]["score"] == 90
    at_start = start(client, raw, HOSTING_IP, altcha="anything")
    assert (at_start.status_code, at_start.json()["code"]) == (403, "risk_too_high")
    assert not AnonymousSession.objects.exists()


def test_a_pat_lowers_the_step(client, make_api_key, pat_issuer):
    _key, raw = make_api_key(captcha="turnstile")
    deny(client, CLEAN_IP, 15)  # high
    offer = challenge(client, raw)
    assert offer.json()["requires"] == ["pow", "turnstile"]
    assert offer.json()["requires_with_pat"] == ["pow", "pat"]
    assert pat_challenges_parse(offer["WWW-Authenticate"])
    # Without the CAPTCHA: refused, saying what would do, with a PAT challenge.
    refused = start(client, raw, altcha=solve(offer.json()["altcha"]))
    assert refused.status_code == 403
    assert (refused.json()["requires"], refused.json()["requires_with_pat"]) == (
        ["pow", "turnstile"],
        ["pow", "pat"],
    )
    (token_challenge, _key_text), *_ = pat_challenges_parse(refused["WWW-Authenticate"])
    token = pat_issuer.token(token_challenge)
    # With the token, the challenge is the lighter one and names the token...
    lighter = challenge(client, raw, token=token)
    assert lighter.json()["requires"] == ["pow", "pat"]
    assert lighter.json()["turnstile_site_key"] is None
    # ...which the session start redeems, once.
    altcha = solve(lighter.json()["altcha"])
    assert start(client, raw, token=token, altcha=altcha).status_code == 201
    risk = issued_events().get().details["risk"]
    assert (risk["tier"], risk["pat_lowered"], risk["shown"]) == ("high", True, ["pat", "pow"])
    replay = start(client, raw, token=token, altcha=solved(client, raw, token=token))
    assert (replay.status_code, replay.json()["code"]) == (401, "pat_replayed")


def test_a_critical_client_is_offered_a_pat_when_one_would_let_it_in(
    client, make_api_key, network_data, pat_issuer
):
    _key, raw = make_api_key()
    deny(client, HOSTING_IP, 15)
    refused = challenge(client, raw, HOSTING_IP)
    assert (refused.status_code, refused.json()["code"]) == (403, "risk_too_high")
    assert refused.json()["requires_with_pat"] == ["pow", "pat"]
    (token_challenge, _), *_ = pat_challenges_parse(refused["WWW-Authenticate"])
    token = pat_issuer.token(token_challenge)
    answer = challenge(client, raw, HOSTING_IP, token=token)
    assert answer.status_code == 201
    assert (answer.json()["requires"], "lvl" in data(answer)) == (["pow", "pat"], False)
    altcha = solve(answer.json()["altcha"])
    assert start(client, raw, HOSTING_IP, token=token, altcha=altcha).status_code == 201


def test_a_forged_pat_lowers_nothing(client, make_api_key, pat_issuer):
    _key, raw = make_api_key(captcha="turnstile")
    deny(client, CLEAN_IP, 15)
    forged = PatIssuerKey(name="issuer.example").token(b"\x00\x02whatever")
    assert challenge(client, raw, token=forged).json()["requires"] == ["pow", "turnstile"]


def test_dry_run_asks_the_floor_and_records_what_it_would_have_asked(
    client, make_api_key, settings
):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "CHALLENGE_LADDER": {**settings.GATEHOUSE.get("CHALLENGE_LADDER", {}), "dry_run": True},
    }
    _key, raw = make_api_key(captcha="turnstile", challenge_ladder={"high": ["captcha"]})
    deny(client, CLEAN_IP, 15)
    answer = challenge(client, raw)
    assert (answer.json()["requires"], "lvl" in data(answer)) == (["pow"], False)
    assert start(client, raw, altcha=solve(answer.json()["altcha"])).status_code == 201
    alert = SecurityEvent.objects.get(kind="challenge_ladder")
    assert (alert.decision, alert.reason, alert.details["dry_run"]) == ("alert", "high", True)
    assert alert.details["risk"]["would_ask"] == ["turnstile"]
    assert alert.details["points"] == {"ip_denials": 60}


def test_a_per_key_ladder_applies_to_that_key_only(client, make_api_key):
    _strict, strict_raw = make_api_key(challenge_ladder={"elevated": "deny"})
    _off, off_raw = make_api_key(required_verifications=[], challenge_ladder="off")
    deny(client, CLEAN_IP, 8)  # elevated
    assert challenge(client, strict_raw).json()["code"] == "risk_too_high"
    assert challenge(client, off_raw).json()["requires"] == []
    assert start(client, off_raw).status_code == 201


def test_metrics_count_challenges_and_session_starts_by_tier(client, make_api_key):
    def value(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    issued = ("gatehouse_session_starts_total", {"tier": "low", "outcome": "issued"})
    refused = ("gatehouse_session_starts_total", {"tier": "low", "outcome": "refused"})
    challenges = ("gatehouse_challenges_total", {"tier": "low", "outcome": "issued"})
    before = [value(name, **labels) for name, labels in (issued, refused, challenges)]
    _key, raw = make_api_key()
    assert start(client, raw, altcha=solved(client, raw)).status_code == 201
    assert start(client, raw, altcha="garbage").status_code == 403
    after = [value(name, **labels) for name, labels in (issued, refused, challenges)]
    assert [b - a for a, b in zip(before, after, strict=True)] == [1.0, 1.0, 1.0]


def test_a_returning_dpop_key_weighs_less(client, make_api_key, settings):
    from tests.support.dpop import BASE_URL, DpopClient

    settings.GATEHOUSE = {**settings.GATEHOUSE, "PUBLIC_BASE_URL": BASE_URL}
    _key, raw = make_api_key(required_verifications=["pow", "dpop"])
    device = DpopClient()
    deny(client, CLEAN_IP, 8)  # the address: 32 points

    def dpop_start():
        proof = device.proof(url=BASE_URL + "/api/v1/sessions")
        return client.post(
            "/api/v1/sessions", {"altcha": solved(client, raw)}, format="json",
            HTTP_X_API_KEY=raw, HTTP_DPOP=proof, REMOTE_ADDR=CLEAN_IP,
        )  # fmt: skip

    assert dpop_start().status_code == 201
    assert dpop_start().status_code == 201
    first, second = (event.details["risk"] for event in issued_events())
    # The key started a session before, with no denials: 15 points less; the
    # tier stays the one its challenge was issued at.
    assert (first["score"], second["score"]) == (32, 17)
    assert (first["tier"], second["tier"]) == ("elevated", "elevated")
