"""Sign-up limits as the gate's plans: checked in order, a refusal stops the
later counts; on Redis all counters of one lookup cost one round trip."""

import datetime

import pytest

from protection.core.ratelimit import rate_limit_distinct_hit, rate_limit_hit, rate_limit_hit_many
from signup import limits

pytestmark = pytest.mark.django_db

IP = "192.0.2.9"


@pytest.fixture
def asker(api_key, make_session):
    key, _ = api_key
    return limits.Asker(key.public_id, make_session(key).session, IP)


def _count(hits, judge, now=None):
    """What the gate does with a plan: count until the first refusal, then judge."""
    results = rate_limit_hit_many(hits, stop_at_refusal=True)
    refusal = judge(results)
    if refusal is not None:
        raise refusal.error
    return refusal


def _lookup(asker, identifier="ada@example.com", now=None):
    body = limits.LookupInput("email", identifier)
    _count(
        limits.lookup_hits(body, asker, now=now),
        lambda results: limits.lookup_judge(body, asker, results, now=now),
    )


def _create(asker, email="ada@example.com"):
    _count(limits.create_hits(email, asker), lambda r: limits.create_judge(email, asker, r))


def _identifier_count(identifier="ada@example.com"):
    return rate_limit_hit(
        group="signup.lookup.identifier",
        ident=limits.identifier_digest(identifier),
        rate="10/h",
        increment=False,
    ).count


def test_a_spent_session_does_not_spend_the_identifier_budget(asker, signup_settings):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=2, SIGNUP_LOOKUP_IDENTIFIER_RATE="10/h")
    _lookup(asker)
    _lookup(asker)
    with pytest.raises(limits.LimitExceeded) as excinfo:
        _lookup(asker)
    assert excinfo.value.reason == "lookup_per_session"
    assert _identifier_count() == 2


def test_the_same_identifier_counts_once_per_ip_and_key(asker, signup_settings):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=100, SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE="2/h")
    for identifier in ("a@example.com", "a@example.com", "b@example.com", "b@example.com"):
        _lookup(asker, identifier)
    with pytest.raises(limits.LimitExceeded) as excinfo:
        _lookup(asker, "c@example.com")
    assert excinfo.value.reason == "lookup_distinct_per_ip"
    assert excinfo.value.headers["RateLimit-Policy"] == '"lookup_distinct_per_ip";q=2;w=3600'
    seen = rate_limit_distinct_hit(
        group="signup.lookup.key",
        ident=asker.api_key_public_id,
        member=limits.identifier_digest("a@example.com"),
        rate="1000/h",
    )
    assert seen.count == 2  # a and b: c was refused per IP before the key-wide count


def test_a_sweep_is_recorded_as_enumeration_with_digests_only(asker, signup_settings):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=100, SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE="1/h")
    body = limits.LookupInput("email", "b@example.com")
    _lookup(asker, "a@example.com")
    results = rate_limit_hit_many(limits.lookup_hits(body, asker), stop_at_refusal=True)
    refusal = limits.lookup_judge(body, asker, results)
    assert refusal is not None
    assert (refusal.kind, refusal.reason) == ("enumeration_suspected", "lookup_distinct_per_ip")
    assert refusal.details == {
        "identifier_kind": "email",
        "identifier_digest": limits.identifier_digest("b@example.com"),
    }


def test_create_limits_in_order(asker, signup_settings):
    signup_settings(SIGNUP_CREATES_PER_SESSION=1, SIGNUP_CREATE_IP_RATE="10/d")
    _create(asker)
    with pytest.raises(limits.LimitExceeded) as excinfo:
        _create(asker)
    assert excinfo.value.reason == "create_per_session"


def test_a_replayed_create_counts_nothing(asker):
    assert limits.create_hits("ada@example.com", asker, replay=True) == []


def test_session_quota_retry_after_is_the_sessions_remaining_life(asker, signup_settings):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=1)
    now = asker.session.expires_at - datetime.timedelta(seconds=90)
    _lookup(asker, now=now)
    with pytest.raises(limits.LimitExceeded) as excinfo:
        _lookup(asker, now=now)
    assert excinfo.value.headers["Retry-After"] == "90"
    assert excinfo.value.reason == "lookup_per_session"


def test_session_quotas_are_per_group_and_per_session(api_key, make_session, signup_settings):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=1, SIGNUP_CREATES_PER_SESSION=1)
    key, _ = api_key
    first = limits.Asker(key.public_id, make_session(key).session, IP)
    second = limits.Asker(key.public_id, make_session(key).session, IP)
    _lookup(first)
    _create(first)
    _lookup(second)
    with pytest.raises(limits.LimitExceeded):
        _lookup(first)


@pytest.mark.redis
def test_one_lookup_is_one_redis_round_trip(asker, monkeypatch):
    from protection.core.ratelimit import batch

    calls = []
    real = batch.redis_count
    monkeypatch.setattr(
        "protection.core.ratelimit.counters.redis_count",
        lambda *args, **kwargs: calls.append(len(args[1])) or real(*args, **kwargs),
    )
    _lookup(asker)
    assert calls == [4]  # session quota, identifier, distinct per IP, distinct per key
