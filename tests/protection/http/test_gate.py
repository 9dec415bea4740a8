"""The gate decides every refusal of a protected request, in one order.

A request that would fail at several steps is refused by the earliest of
them: each case below breaks one step and every step after it, so only the
order of the gate can give the expected code. Then: the verdict, and what a
refusal costs.
"""

import datetime

import pytest
from rest_framework.test import APIClient

from protection.blocks import block_create
from protection.core.events import SecurityEvent
from protection.http import gate
from protection.http.context import RequestContext, verdict
from protection.sessions import session_issue, session_revoke
from signup.persons import Person
from tests.support.attestation import b64url

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/persons/lookup"
IP = "203.0.113.50"
FORGED_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzaWQiOiJ4In0."
    "c2lnbmVkIHdpdGggYW5vdGhlciBrZXkgYnkgc29tZW9uZSBlbHNl"
)


def test_the_steps_are_in_the_documented_order():
    assert gate.STEPS == (
        "ip_block",
        "over_budget",
        "api_key",
        "api_key_block",
        "token",
        "dpop",
        "session_block",
        "scope",
        "attestation",
        "network_policy",
        "body",
        "count",
        "judge",
        "risk",
        "evidence",
    )


def test_a_step_cannot_run_after_a_later_one():
    context = RequestContext(client_ip=IP)
    with gate._step(context, "scope"):
        pass
    with pytest.raises(RuntimeError, match="'token' after 'scope'"):
        with gate._step(context, "token"):
            pass


@pytest.fixture
def lookup(make_api_key, settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "AUTO_BLOCK_RULES": [],
        "RATE_LIMITS": {"lookup": {"ip": ["100/m"], "key": ["100/m"], "session": ["2/m"]}},
    }
    key, raw = make_api_key(scopes=["lookup", "session"])
    issued = session_issue(api_key=key, client_ip=IP)

    def post(body=None, *, raw_key=raw, token=None, ip=IP):
        return APIClient().post(
            LOOKUP,
            {"email": "ada@example.com"} if body is None else body,
            format="json",
            HTTP_X_API_KEY=raw_key,
            HTTP_AUTHORIZATION=f"Bearer {token or issued.access}",
            REMOTE_ADDR=ip,
        )

    post.key, post.raw, post.issued = key, raw, issued
    return post


def _code(response):
    return response.status_code, response.json()["code"]


def test_a_blocked_ip_is_refused_before_its_key_is_read(lookup):
    block_create(kind="ip", value=IP, reason="test")
    assert _code(lookup(raw_key="gh_pub_not-a-key", token=FORGED_TOKEN, body={})) == (
        403,
        "blocked",
    )


def test_an_address_over_budget_is_refused_before_its_key(lookup, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMITS": {"lookup": {"ip": ["1/m"]}}}
    assert lookup().status_code == 200
    assert _code(lookup(raw_key="gh_pub_not-a-key")) == (429, "rate_limited")  # counted
    before = SecurityEvent.objects.filter(kind="api_key_auth").count()
    assert _code(lookup(raw_key="gh_pub_not-a-key")) == (429, "rate_limited")  # memo
    assert SecurityEvent.objects.filter(kind="api_key_auth").count() == before


def test_the_key_is_checked_before_the_token(lookup):
    response = lookup(raw_key="gh_pub_not-a-key", token=FORGED_TOKEN)
    assert _code(response) == (401, "api_key_invalid")
    assert response["WWW-Authenticate"] == 'ApiKey header="X-Api-Key"'


def test_a_blocked_key_is_refused_before_its_token_is_read(lookup):
    block_create(kind="api_key", value=lookup.key.public_id, reason="test")
    assert _code(lookup(token=FORGED_TOKEN)) == (403, "blocked")


def test_the_token_is_checked_before_the_scope(lookup, make_api_key):
    key, raw = make_api_key(scopes=["session"])  # no lookup scope
    response = lookup(raw_key=raw, token=FORGED_TOKEN)
    assert _code(response) == (401, "token_invalid")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_blocked_session_is_refused_before_the_scope(lookup, make_api_key):
    key, raw = make_api_key(scopes=["session"])
    issued = session_issue(api_key=key, client_ip=IP)
    block_create(kind="session", value=str(issued.session.id), reason="test")
    assert _code(lookup(raw_key=raw, token=issued.access, body={})) == (403, "blocked")


def test_the_scope_is_checked_before_the_body(lookup, make_api_key):
    key, raw = make_api_key(scopes=["session"])
    issued = session_issue(api_key=key, client_ip=IP)
    assert _code(lookup(raw_key=raw, token=issued.access, body={})) == (403, "scope_denied")


def test_attestation_is_checked_before_the_body(lookup, make_api_key, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_SECRET": b64url(b"s" * 32)}
    key, raw = make_api_key(
        scopes=["lookup"], required_verifications=["approov"], attest_every_request=True
    )
    issued = session_issue(api_key=key, client_ip=IP)
    assert _code(lookup(raw_key=raw, token=issued.access, body={})) == (
        403,
        "attestation_required",
    )


def test_the_body_is_checked_before_the_session_state_and_limits(lookup):
    session_revoke(session=lookup.issued.session, reason="test")
    assert _code(lookup(body={"email": "not-an-address"})) == (400, "invalid_request")
    # A bad body spends nothing but the address's budget: the session's stays.
    assert _code(lookup()) == (401, "session_revoked")


def test_a_revoked_session_is_refused_before_its_limits(lookup):
    assert lookup().status_code == 200
    assert lookup().status_code == 200
    session_revoke(session=lookup.issued.session, reason="test")
    response = lookup()  # over its session limit (2/m) too
    assert _code(response) == (401, "session_revoked")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_group_limits_are_judged_before_the_endpoints_own(lookup, signup_settings):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=1)
    assert lookup().status_code == 200
    assert lookup().status_code == 429
    assert lookup().status_code == 429  # over both the session quota and 2/m
    reasons = list(
        SecurityEvent.objects.filter(kind="rate_limited").values_list("reason", flat=True)
    )
    assert reasons == ["lookup:session", "lookup_per_session"]


@pytest.fixture
def signup_settings(settings):
    def override(**values):
        settings.GATEHOUSE = {**settings.GATEHOUSE, **values}

    return override


def test_every_refusal_ends_in_a_deny_verdict_naming_its_step(lookup):
    refused = verdict(lookup(token=FORGED_TOKEN).wsgi_request)
    assert (refused.action, refused.step, refused.reasons) == ("deny", "token", ("token_invalid",))
    served = verdict(lookup().wsgi_request)
    assert (served.action, served.risk, served.reasons) == ("allow", 0, ())


def test_a_created_person_keeps_the_verdict(make_api_key, settings):
    # The key-wide create limit only observes: over it, the create goes on and
    # the verdict says so.
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {"create": {"key": ["1/m"]}},
        "RATE_LIMITS_OBSERVE": ["create:key"],
        "SIGNUP_CREATES_PER_SESSION": 5,
    }
    key, raw = make_api_key(scopes=["create"])
    client = APIClient()
    for number in (1, 2):
        issued = session_issue(api_key=key, client_ip=IP)
        response = client.post(
            "/api/v1/persons",
            {"email": f"ada{number}@example.com", "full_name": "Ada"},
            format="json",
            HTTP_X_API_KEY=raw,
            HTTP_AUTHORIZATION=f"Bearer {issued.access}",
            REMOTE_ADDR=IP,
        )
        assert response.status_code == 201
    clean, observed = Person.objects.order_by("created_at")
    assert (clean.risk, clean.risk_reasons) == (0, [])
    assert observed.risk_reasons == ["create:key"]
    event = SecurityEvent.objects.filter(kind="person_created").order_by("created_at").last()
    assert event.details["verdict"] == {"action": "observe", "risk": 0, "reasons": ["create:key"]}


@pytest.mark.redis
def test_a_refused_request_costs_one_round_trip(lookup, settings, monkeypatch):
    """A forged token under every default rule: the per-IP count, the
    automatic-blocking counters and reputation ride one script call."""
    from protection.conf import DEFAULTS
    from protection.core.ratelimit import batch

    settings.GATEHOUSE = {**settings.GATEHOUSE, "AUTO_BLOCK_RULES": DEFAULTS["AUTO_BLOCK_RULES"]}
    calls = []
    real = batch.redis_count
    monkeypatch.setattr(
        "protection.core.ratelimit.counters.redis_count",
        lambda *args, **kwargs: calls.append(len(args[1])) or real(*args, **kwargs),
    )
    assert lookup(token=FORGED_TOKEN).status_code == 401
    # ip (1 window) + the ip-verification-failures rule + denials per IP and per key.
    assert calls == [4]
    assert lookup(raw_key="gh_pub_not-a-key").status_code == 401
    assert calls[1:] == [3]  # no key known: the denial counts for the IP only


@pytest.mark.redis  # on a per-process cache the version says nothing: the database is asked
def test_a_new_block_applies_to_the_request_that_learns_of_it(
    lookup, django_capture_on_commit_callbacks
):
    assert lookup().status_code == 200
    # Made behind this process's back: only the version in the round trip says so.
    from protection.blocks.models import BlockedClient

    BlockedClient.objects.create(
        kind="ip",
        value=IP,
        reason="elsewhere",
        expires_at=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
    )
    from protection.blocks.ruleset import blocks_version_bump

    with django_capture_on_commit_callbacks(execute=True):
        blocks_version_bump()  # published once it commits
    assert _code(lookup()) == (403, "blocked")


def test_with_the_cache_down_a_revoked_session_is_401_not_503(lookup, settings):
    from tests.support.cache import DEAD_REDIS

    session_revoke(session=lookup.issued.session, reason="test")
    settings.CACHES = DEAD_REDIS
    # The lookup's session quota cannot be kept without the cache (503), but
    # the database still says the session is revoked, and that comes first.
    response = lookup()
    assert _code(response) == (401, "session_revoked")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def network_data(tmp_path, django_capture_on_commit_callbacks):
    """Origin data: 192.0.2.0/25 is AS 64500, a hosting network; 192.0.2.10 a Tor exit."""
    from tests.support.netintel import load_sources

    with django_capture_on_commit_callbacks(execute=True):
        load_sources(tmp_path / "netintel")


HOSTING_IP = "192.0.2.20"  # AS 64500, hosting


def test_a_blocked_network_is_refused_before_the_key(lookup, network_data):
    block_create(kind="asn", value="64500", reason="a farm")
    assert _code(lookup(raw_key="gh_pub_not-a-key", ip=HOSTING_IP)) == (403, "blocked")
    assert lookup().status_code == 200  # another network


def test_the_network_policy_refuses_after_attestation_and_before_the_body(
    lookup, network_data, settings, make_api_key
):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "NETWORK_POLICY": {"hosting": "deny"}}
    assert _code(lookup(ip=HOSTING_IP, body={})) == (403, "network_refused")
    key, raw = make_api_key(scopes=["session"])
    issued = session_issue(api_key=key, client_ip=HOSTING_IP)
    assert _code(lookup(raw_key=raw, token=issued.access, ip=HOSTING_IP)) == (403, "scope_denied")
    event = SecurityEvent.objects.get(kind="network_refused")
    assert event.reason == "hosting"
    assert event.details["network"] == {"asn": 64500, "country": "XA", "class": "hosting"}
    assert event.details["policy"] == {"action": "deny", "class": "hosting", "source": "global"}


def test_a_keys_own_network_policy_wins(lookup, network_data, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "NETWORK_POLICY": {"hosting": "deny"}}
    lookup.key.network_policy = {"hosting": "allow"}
    lookup.key.save()
    from protection.keys import verified_keys

    verified_keys.clear()
    assert lookup(ip=HOSTING_IP).status_code == 200
    served = verdict(lookup(ip=HOSTING_IP).wsgi_request)
    assert "network:hosting" in served.reasons


def test_an_as_number_can_be_a_rate_limit_dimension(lookup, network_data, settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {"lookup": {"ip": ["100/m"], "asn": ["2/m"]}},
        "RATE_LIMITS_OBSERVE": [],  # enforced (it only observes by default)
    }
    assert lookup(ip="192.0.2.20").status_code == 200
    assert lookup(ip="192.0.2.21").status_code == 200
    refused = lookup(ip="192.0.2.22")  # a third address of the same AS
    assert _code(refused) == (429, "rate_limited")
    assert '"asn-1m";r=0' in refused["RateLimit"]
    assert lookup(ip="198.51.100.7").status_code == 200  # AS 65536


def test_per_as_limits_only_observe_by_default(lookup, network_data, settings):
    # One AS is thousands of clients who do not control each other: over its
    # budget, an alert, not a refusal (the strict policy enforces it).
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {"lookup": {"ip": ["100/m"], "asn": ["1/m"]}},
    }
    assert lookup(ip="192.0.2.20").status_code == 200
    served = lookup(ip="192.0.2.21")
    assert served.status_code == 200
    assert "asn" not in served["RateLimit-Policy"]  # its count tells of other clients
    alert = SecurityEvent.objects.get(kind="rate_limited")
    assert (alert.decision, alert.reason, alert.details["dry_run"]) == ("alert", "lookup:asn", True)


def test_a_request_is_classified_once(lookup, network_data, monkeypatch):
    # The origin is kept in the context for the blocks, the network policy,
    # the asn limit and the events: one classification per request.
    calls = []
    real = gate.netintel_classify
    monkeypatch.setattr(gate, "netintel_classify", lambda ip: calls.append(ip) or real(ip))
    assert lookup(ip=HOSTING_IP).status_code == 200
    assert calls == [HOSTING_IP]
