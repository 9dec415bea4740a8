"""Sign-up limits: checked in order, a refusal stops the later counts; on Redis
all counters of one lookup or create cost one round trip."""

import pytest

from protection.core.ratelimit import rate_limit_distinct_hit, rate_limit_hit
from signup import limits

pytestmark = pytest.mark.django_db

IP = "192.0.2.9"


@pytest.fixture
def session_and_key(api_key, make_session):
    key, _ = api_key
    return make_session(key).session, key


def _lookup(session, key, identifier="ada@example.com"):
    limits.lookup_limits_enforce(identifier=identifier, api_key=key, session=session, client_ip=IP)


def _identifier_count(identifier="ada@example.com"):
    return rate_limit_hit(
        group="signup.lookup.identifier",
        ident=limits.identifier_digest(identifier),
        rate="10/h",
        increment=False,
    ).count


def test_a_spent_session_does_not_spend_the_identifier_budget(session_and_key, signup_settings):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=2, SIGNUP_LOOKUP_IDENTIFIER_RATE="10/h")
    session, key = session_and_key
    _lookup(session, key)
    _lookup(session, key)
    with pytest.raises(limits.LimitExceeded) as excinfo:
        _lookup(session, key)
    assert excinfo.value.reason == "lookup_per_session"
    assert _identifier_count() == 2


def test_the_same_identifier_counts_once_per_ip_and_key(session_and_key, signup_settings):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=100, SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE="2/h")
    session, key = session_and_key
    for identifier in ("a@example.com", "a@example.com", "b@example.com", "b@example.com"):
        _lookup(session, key, identifier)
    with pytest.raises(limits.LimitExceeded) as excinfo:
        _lookup(session, key, "c@example.com")
    assert excinfo.value.reason == "lookup_distinct_per_ip"
    assert excinfo.value.headers["RateLimit-Policy"] == '"lookup_distinct_per_ip";q=2;w=3600'
    seen = rate_limit_distinct_hit(
        group="signup.lookup.key",
        ident=key.public_id,
        member=limits.identifier_digest("a@example.com"),
        rate="1000/h",
    )
    assert seen.count == 2  # a and b: c was refused per IP before the key-wide count


def test_create_limits_in_order(session_and_key, signup_settings):
    signup_settings(SIGNUP_CREATES_PER_SESSION=1, SIGNUP_CREATE_IP_RATE="10/d")
    session, _key = session_and_key
    limits.create_limits_enforce(session=session, client_ip=IP)
    with pytest.raises(limits.LimitExceeded) as excinfo:
        limits.create_limits_enforce(session=session, client_ip=IP)
    assert excinfo.value.reason == "create_per_session"


@pytest.mark.redis
def test_one_lookup_is_one_redis_round_trip(session_and_key, monkeypatch):
    from protection.core.ratelimit import batch

    calls = []
    real = batch.redis_count
    monkeypatch.setattr(
        "protection.core.ratelimit.counters.redis_count",
        lambda *args, **kwargs: calls.append(len(args[1])) or real(*args, **kwargs),
    )
    session, key = session_and_key
    _lookup(session, key)
    assert calls == [4]  # session quota, identifier, distinct per IP, distinct per key
