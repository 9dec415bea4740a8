"""Identity velocity through the API: who a sign-up says it is has a budget.

``mailbox`` (the canonical mailbox), ``email_domain``, ``phone_prefix`` and
``device`` limit creates and lookups. They count what succeeded: a refused or
failed request spends none of them, so nobody can use up a victim's budget
with requests that fail.
"""

import pytest

from protection.core.events import SecurityEvent
from signup.persons import Person
from tests.support.attestation import b64url, sha256_b64
from tests.support.signup import person_body

pytestmark = pytest.mark.django_db

VARIANTS = ["john+1@gmail.com", "j.ohn+2@googlemail.com", "J.O.H.N+3@gmail.com", "john@gmail.com"]


@pytest.fixture
def limits(generous_limits, signup_settings):
    """``limits(create={...}, lookup={...}, observe=[...])``: only these group limits."""

    def set_limits(*, observe=(), **groups):
        signup_settings(RATE_LIMITS=groups, RATE_LIMITS_OBSERVE=list(observe))

    return set_limits


def _create(make_caller, key, email, *, phone=None, ip="203.0.113.7", **headers):
    body = person_body(email=email, full_name="John Doe")
    if phone:
        body["phone"] = phone
    return make_caller(api_key=key, remote_addr=ip).create(body, **headers)


def _rate_limited(dimension):
    return SecurityEvent.objects.filter(kind="rate_limited", reason=f"create:{dimension}")


def test_variants_of_one_mailbox_share_one_budget(limits, make_caller, make_api_key):
    limits(create={"mailbox": ["3/d"]})
    key = make_api_key()
    statuses = [_create(make_caller, key, email).status_code for email in VARIANTS]
    assert statuses == [201, 201, 201, 429]
    refused = _rate_limited("mailbox").get()
    assert refused.decision == "deny"
    assert refused.details["dimensions"] == ["mailbox"]
    # Another inbox on the same provider has its own budget.
    assert _create(make_caller, key, "jane+1@gmail.com").status_code == 201


def test_a_refusal_answers_429_with_the_dimension_and_retry_after(
    limits, make_caller, make_api_key
):
    limits(create={"mailbox": ["1/d"]})
    key = make_api_key()
    served = _create(make_caller, key, "john+1@gmail.com")
    # A budget others share is not shown while it has room: its remaining
    # count would tell of other people's sign-ups.
    assert "mailbox" not in served.get("RateLimit-Policy", "")
    refused = _create(make_caller, key, "john+2@gmail.com")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    assert '"mailbox-1d";r=0' in refused["RateLimit"]


def test_a_taken_address_leaves_the_budgets_unchanged(limits, make_caller, make_api_key):
    limits(create={"mailbox": ["2/d"], "device": ["2/d"]})
    key = make_api_key()
    assert _create(make_caller, key, "john@gmail.com").status_code == 201
    for _ in range(3):  # 409: the request did not succeed, it spent nothing
        assert _create(make_caller, key, "john@gmail.com").status_code == 409
    assert _create(make_caller, key, "john+1@gmail.com").status_code == 201
    assert _create(make_caller, key, "john+2@gmail.com").status_code == 429


@pytest.mark.parametrize("failure", ["invalid_request", "crash"])
def test_a_failure_in_the_service_leaves_the_budgets_unchanged(
    limits, make_caller, make_api_key, monkeypatch, failure
):
    from protection.base.exceptions import ProtectionError

    limits(create={"mailbox": ["1/d"]})
    key = make_api_key()

    def failing(**kwargs):
        if failure == "crash":
            raise RuntimeError("the database went away")
        raise ProtectionError("invalid_request", "refused by the service")

    with monkeypatch.context() as patched:
        patched.setattr("signup.views.person_create", failing)
        caller = make_caller(api_key=key)
        caller.client.raise_request_exception = False
        response = caller.create(person_body(email="john@gmail.com"))
        assert response.status_code == (500 if failure == "crash" else 400)
    assert _create(make_caller, key, "john+1@gmail.com").status_code == 201


def test_a_refusal_by_another_limit_leaves_the_budgets_unchanged(
    limits, make_caller, make_api_key, signup_settings
):
    limits(create={"mailbox": ["1/d"]})
    key = make_api_key()
    # The endpoint's own per-IP create limit refuses before the identities count.
    signup_settings(SIGNUP_CREATE_IP_RATE="1/d")
    assert _create(make_caller, key, "jane@gmail.com", ip="192.0.2.200").status_code == 201
    assert _create(make_caller, key, "john@gmail.com", ip="192.0.2.200").status_code == 429
    assert _create(make_caller, key, "john+1@gmail.com").status_code == 201


def test_a_refusal_by_a_later_identity_takes_back_the_earlier_ones(
    limits, make_caller, make_api_key, make_session
):
    limits(create={"mailbox": ["1/d"], "device": ["1/d"]})
    key, raw = make_api_key()

    def create(email, device):
        caller = make_caller(api_key=(key, raw))
        caller.issued = make_session(key, client_ip=caller.remote_addr, device_id=device)
        return caller.create(person_body(email=email))

    assert create("jane@gmail.com", "phone-1").status_code == 201
    # The mailbox is counted, then the device refuses: the mailbox is given back.
    assert create("john@gmail.com", "phone-1").status_code == 429
    assert _rate_limited("device").exists()
    assert create("john+1@gmail.com", "phone-2").status_code == 201


def test_a_replayed_answer_counts_no_identity(limits, make_caller, make_api_key):
    limits(create={"mailbox": ["1/d"]})
    key = make_api_key()
    caller = make_caller(api_key=key)
    body = person_body(email="john@gmail.com")
    assert caller.create(body, idempotency_key="k-1").status_code == 201
    replayed = caller.create(body, idempotency_key="k-1")
    assert (replayed.status_code, replayed["Idempotent-Replayed"]) == (201, "true")
    assert _create(make_caller, key, "john+1@gmail.com").status_code == 429  # still 1 spent


def test_a_retry_that_raced_its_first_use_gives_its_identities_back(
    limits, make_caller, make_api_key, monkeypatch
):
    # The retry's body is parsed while its first use is still running (no
    # stored answer yet: its identities count), then the service replays the
    # first answer: nobody was created twice, nothing is spent twice.
    limits(create={"mailbox": ["2/d"]})
    key = make_api_key()
    caller = make_caller(api_key=key)
    body = person_body(email="john@gmail.com")
    assert caller.create(body, idempotency_key="k-1").status_code == 201
    monkeypatch.setattr("signup.idempotency.idempotency_replay", lambda **kwargs: None)
    replayed = caller.create(body, idempotency_key="k-1")
    assert (replayed.status_code, replayed["Idempotent-Replayed"]) == (201, "true")
    monkeypatch.undo()
    assert _create(make_caller, key, "john+1@gmail.com").status_code == 201  # 2 of 2
    assert _create(make_caller, key, "john+2@gmail.com").status_code == 429


def test_an_observed_identity_limit_counts_alerts_and_lets_through(
    limits, make_caller, make_api_key
):
    limits(create={"mailbox": ["1/d"]}, observe=["create:mailbox"])
    key = make_api_key()
    assert _create(make_caller, key, "john+1@gmail.com").status_code == 201
    assert _create(make_caller, key, "john+2@gmail.com").status_code == 201
    alert = _rate_limited("mailbox").get()
    assert (alert.decision, alert.details["dry_run"]) == ("alert", True)
    assert Person.objects.get(email="john+2@gmail.com").risk_reasons == ["create:mailbox"]


def test_an_observed_limit_does_not_lift_the_endpoints_own_limits(
    limits, make_caller, make_api_key, signup_settings
):
    # An AS over its (observed) budget must not skip the per-IP create limit.
    limits(create={"key": ["1/d"]}, observe=["create:key"])
    signup_settings(SIGNUP_CREATE_IP_RATE="2/d")
    key = make_api_key()
    statuses = [_create(make_caller, key, f"p{n}@example.com").status_code for n in range(3)]
    assert statuses == [201, 201, 429]
    assert SecurityEvent.objects.filter(reason="create_per_ip").exists()


def test_a_phone_prefix_is_a_budget(limits, make_caller, make_api_key):
    limits(create={"phone_prefix": ["1/d"]})
    key = make_api_key()
    assert _create(make_caller, key, "a@example.com", phone="+12015550123").status_code == 201
    # Another number of the same block of 10,000.
    assert _create(make_caller, key, "b@example.com", phone="+12015550188").status_code == 429
    assert _create(make_caller, key, "c@example.com", phone="+12015560188").status_code == 201
    assert _create(make_caller, key, "d@example.com").status_code == 201  # no phone: not counted


def test_an_email_domain_is_a_budget(limits, make_caller, make_api_key):
    limits(create={"email_domain": ["2/d"]})
    key = make_api_key()
    statuses = [
        _create(make_caller, key, email).status_code
        for email in ("a@farm.example", "b@FARM.example", "c@farm.example", "d@other.example")
    ]
    assert statuses == [201, 201, 429, 201]


# --- devices --------------------------------------------------------------------


def _device_caller(make_caller, make_session, key, device):
    caller = make_caller(api_key=key)
    caller.issued = make_session(key[0], client_ip=caller.remote_addr, device_id=device)
    return caller


def test_a_claimed_device_id_counts_per_key(limits, make_caller, make_api_key, make_session):
    limits(create={"device": ["1/d"]})
    first, second = make_api_key(), make_api_key()
    create = lambda key, email: _device_caller(  # noqa: E731
        make_caller, make_session, key, "phone-1"
    ).create(person_body(email=email))
    assert create(first, "a@example.com").status_code == 201
    assert create(first, "b@example.com").status_code == 429
    # Another key's client claiming the same id has a budget of its own.
    assert create(second, "c@example.com").status_code == 201


@pytest.fixture
def approov_secret(settings):
    import os

    secret = os.urandom(32)
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_SECRET": b64url(secret)}
    return secret


def test_a_claimed_id_never_spends_a_verified_devices_budget(
    limits, make_caller, make_api_key, make_session, approov_secret
):
    import time

    import jwt

    limits(create={"device": ["1/d"]})
    attested_key = make_api_key(required_verifications=["approov"], attest_every_request=True)
    claiming_key = make_api_key()

    def attested_create(email):
        caller = _device_caller(make_caller, make_session, attested_key, "")
        authorization = f"Bearer {caller.issued.access}"
        claims = {"exp": int(time.time()) + 300, "did": "device-A"}
        token = jwt.encode({**claims, "pay": sha256_b64(authorization)}, approov_secret)
        return caller.create(person_body(email=email), HTTP_APPROOV_TOKEN=token)

    # Someone on another key claims the verified device's id.
    claimed = _device_caller(make_caller, make_session, claiming_key, "device-A")
    assert claimed.create(person_body(email="x@example.com")).status_code == 201
    assert attested_create("a@example.com").status_code == 201
    # The verified device's own budget is spent by its own sign-up only.
    assert attested_create("b@example.com").status_code == 429


# --- lookups -----------------------------------------------------------------------


def test_lookups_count_the_identities_where_configured(limits, make_caller, make_api_key):
    limits(lookup={"mailbox": ["2/h"], "phone_prefix": ["1/h"]})
    key = make_api_key()

    def lookup(body):
        return make_caller(api_key=key).lookup(body).status_code

    assert [lookup({"email": email}) for email in VARIANTS[:3]] == [200, 200, 429]
    assert SecurityEvent.objects.filter(reason="lookup:mailbox").exists()
    assert lookup({"phone": "+12015550123"}) == 200
    assert lookup({"phone": "+12015550177"}) == 429
    assert lookup({"email": "jane@gmail.com"}) == 200  # another inbox


def test_lookups_count_an_email_domain(limits, make_caller, make_api_key):
    limits(lookup={"email_domain": ["1/h"]})
    key = make_api_key()
    assert make_caller(api_key=key).lookup({"email": "a@farm.example"}).status_code == 200
    assert make_caller(api_key=key).lookup({"email": "b@farm.example"}).status_code == 429


# --- what it costs --------------------------------------------------------------------


@pytest.mark.redis
def test_a_success_is_one_round_trip_a_failure_two(limits, make_caller, make_api_key, monkeypatch):
    from protection.core.ratelimit import batch

    limits(create={"ip": ["10/m"], "mailbox": ["3/d"], "device": ["5/d"]})
    calls = []
    real = batch.redis_count
    monkeypatch.setattr(
        "protection.core.ratelimit.counters.redis_count",
        lambda *args, **kwargs: calls.append(len(args[1])) or real(*args, **kwargs),
    )
    key = make_api_key()
    assert _create(make_caller, key, "john@gmail.com").status_code == 201
    # ip, the session quota and per-IP create, then the mailbox: one script call.
    assert calls == [4]
    calls.clear()
    assert _create(make_caller, key, "john@gmail.com").status_code == 409
    # On the way out: the mailbox's refund, with the denial counts the 409
    # left for reputation (per IP, per key): one more round trip.
    assert calls == [4, 3]
