"""Proof-of-work challenges: issue, verify once, refuse everything else."""

import base64
import datetime
import json

import altcha
import pytest
from django.core.cache import cache
from django.utils import timezone

from protection.base.exceptions import ProtectionError
from protection.challenges import (
    SpentChallenge,
    challenge_issue,
    challenge_verify,
    challenges_issued_count,
    challenges_purge_expired,
)
from protection.challenges.pow import pow_difficulty, pow_solution_verify
from protection.core.events import SecurityEvent, event_record
from protection.core.reputation import recent_denials
from tests.support.challenges import easy_pow_fixture, solve  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("easy_pow")]

IP = "198.51.100.7"


def _tamper(payload: str, mutate) -> str:
    data = json.loads(base64.b64decode(payload))
    mutate(data)
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_challenge_is_signed_expiring_and_bound_to_the_key(api_key):
    key, _ = api_key
    now = timezone.now()
    body = challenge_issue(api_key=key, client_ip=IP, now=now)
    parameters = body["altcha"]["parameters"]
    assert body["requires"] == ["pow"]
    assert body["recaptcha_site_key"] is None
    assert body["altcha"]["signature"]
    assert parameters["keySignature"]
    assert parameters["data"]["kid"] == key.public_id
    assert parameters["expiresAt"] == int(now.timestamp()) + 120


def test_solution_is_accepted_once(api_key):
    key, _ = api_key
    payload = solve(challenge_issue(api_key=key, client_ip=IP)["altcha"])
    challenge_verify(api_key=key, client_ip=IP, altcha_payload=payload)
    with pytest.raises(ProtectionError) as refused:
        challenge_verify(api_key=key, client_ip=IP, altcha_payload=payload)
    assert refused.value.code == "challenge_replayed"
    assert SecurityEvent.objects.filter(kind="challenge_replayed", decision="deny").count() == 1


@pytest.mark.parametrize(
    "garbage",
    ["", "not base64 !!", base64.b64encode(b"[1,2]").decode(), base64.b64encode(b"{}").decode(),
     "A" * 5000, base64.b64encode(b'{"challenge": {"parameters": 1}, "solution": 2}').decode()],
)  # fmt: skip
def test_garbage_costs_no_database_work(api_key, garbage, django_assert_num_queries):
    key, _ = api_key
    with django_assert_num_queries(0), pytest.raises(ProtectionError) as refused:
        pow_solution_verify(payload=garbage, api_key_public_id=key.public_id, now=timezone.now())
    assert refused.value.code == "challenge_failed"


def test_wrong_solution_and_bad_signature_cost_no_database_work(api_key, django_assert_num_queries):
    key, _ = api_key
    payload = solve(challenge_issue(api_key=key, client_ip=IP)["altcha"])
    wrong = _tamper(payload, lambda d: d["solution"].update(derivedKey="00" * 32))
    unsigned = _tamper(payload, lambda d: d["challenge"].pop("signature"))
    for bad in (wrong, unsigned):
        with django_assert_num_queries(0), pytest.raises(ProtectionError):
            pow_solution_verify(payload=bad, api_key_public_id=key.public_id, now=timezone.now())


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["challenge"]["parameters"].update(
            expiresAt=d["challenge"]["parameters"]["expiresAt"] + 3600
        ),  # noqa: E501
        lambda d: d["challenge"]["parameters"].update(keyPrefix="00"),
        lambda d: d["challenge"]["parameters"].update(cost=2),
        lambda d: d["challenge"]["parameters"]["data"].update(kid="someoneelse1"),
        lambda d: d["challenge"]["parameters"].pop("keySignature"),
        lambda d: d["challenge"].update(signature="ab" * 32),
        lambda d: d["solution"].update(derivedKey=d["solution"]["derivedKey"][:-2] + "00"),
        lambda d: d["solution"].update(derivedKey=123),
    ],
    ids=["expiry", "prefix", "cost", "kid", "no-key-signature", "signature", "key", "key-type"],
)
def test_tampered_solution_is_refused(api_key, mutate):
    key, _ = api_key
    payload = solve(challenge_issue(api_key=key, client_ip=IP)["altcha"])
    with pytest.raises(ProtectionError) as refused:
        challenge_verify(api_key=key, client_ip=IP, altcha_payload=_tamper(payload, mutate))
    assert refused.value.code == "challenge_failed"
    assert SecurityEvent.objects.filter(kind="challenge_failed").count() == 1
    # Tampering never spends: nothing was recorded as used.
    assert SpentChallenge.objects.count() == 0


def test_expired_solution_is_refused(api_key):
    key, _ = api_key
    issued_at = timezone.now()
    payload = solve(challenge_issue(api_key=key, client_ip=IP, now=issued_at)["altcha"])
    later = issued_at + datetime.timedelta(seconds=121)
    with pytest.raises(ProtectionError) as refused:
        challenge_verify(api_key=key, client_ip=IP, altcha_payload=payload, now=later)
    assert refused.value.code == "challenge_failed"
    assert "expired" in refused.value.detail
    assert SecurityEvent.objects.get(kind="challenge_failed").reason == "pow_expired"


def test_solution_for_another_key_is_refused(make_api_key):
    key_a, _ = make_api_key(name="a")
    key_b, _ = make_api_key(name="b")
    payload = solve(challenge_issue(api_key=key_a, client_ip=IP)["altcha"])
    with pytest.raises(ProtectionError) as refused:
        challenge_verify(api_key=key_b, client_ip=IP, altcha_payload=payload)
    assert refused.value.code == "challenge_failed"
    assert SecurityEvent.objects.get(kind="challenge_failed").reason == "pow_other_key"


def test_unsigned_challenge_made_by_the_client_is_refused(api_key):
    key, _ = api_key
    forged = altcha.create_challenge(
        "SHA-256", 1, counter=5, expires_at=int(timezone.now().timestamp()) + 60,
        data={"kid": key.public_id}, hmac_secret="attacker", hmac_key_secret="attacker",
    )  # fmt: skip
    solution = altcha.solve_challenge(forged)
    payload = altcha.Payload(forged, solution).to_base64()
    with pytest.raises(ProtectionError) as refused:
        challenge_verify(api_key=key, client_ip=IP, altcha_payload=payload)
    assert refused.value.code == "challenge_failed"


def test_key_without_pow_needs_no_solution(make_api_key):
    key, _ = make_api_key(required_verifications=[])
    challenge_verify(api_key=key, client_ip=IP)  # nothing required, nothing raised


def test_missing_solution_is_refused(api_key):
    key, _ = api_key
    with pytest.raises(ProtectionError) as refused:
        challenge_verify(api_key=key, client_ip=IP, altcha_payload="")
    assert refused.value.code == "challenge_failed"


def test_difficulty_grows_with_ip_denials_up_to_the_cap(api_key):
    key, _ = api_key
    assert pow_difficulty(client_ip=IP, api_key=key) == 400
    for _ in range(3):  # POW_DENIALS_PER_DOUBLING_IP
        event_record(kind="rate_limited", decision="deny", client_ip=IP)
    assert recent_denials(client_ip=IP) == 3
    assert pow_difficulty(client_ip=IP, api_key=key) == 800
    assert pow_difficulty(client_ip="203.0.113.9", api_key=key) == 400  # other clients unaffected
    for _ in range(30):
        event_record(kind="blocked", decision="deny", client_ip=IP)
    assert pow_difficulty(client_ip=IP, api_key=key) == 6400  # the cap
    parameters = challenge_issue(api_key=key, client_ip=IP)["altcha"]["parameters"]
    assert parameters["data"]["maxNumber"] == 6400


def test_difficulty_grows_with_key_denials(make_api_key, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POW_DENIALS_PER_DOUBLING_KEY": 2}
    key, _ = make_api_key()
    other, _ = make_api_key(name="other")
    for index in range(4):
        event_record(
            kind="challenge_failed", decision="deny", api_key=key, client_ip=f"10.0.0.{index}"
        )
    assert recent_denials(api_key=key) == 4
    # Two doublings' worth of key-wide pressure, but a clean client pays at
    # most POW_KEY_PRESSURE_MAX_DOUBLINGS (1) of them: risk stays per client.
    assert pow_difficulty(client_ip="192.0.2.1", api_key=key) == 800
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POW_KEY_PRESSURE_MAX_DOUBLINGS": 2}
    assert pow_difficulty(client_ip="192.0.2.1", api_key=key) == 1600
    assert pow_difficulty(client_ip="192.0.2.1", api_key=other) == 400


def test_allowed_events_do_not_count_as_denials():
    event_record(kind="session_issued", decision="allow", client_ip=IP)
    event_record(kind="session_refreshed", decision="alert", client_ip=IP)
    assert recent_denials(client_ip=IP) == 0


def test_denials_fade_after_the_window():
    now = timezone.now()
    event_record(kind="rate_limited", decision="deny", client_ip=IP)
    assert recent_denials(client_ip=IP, now=now) == 1
    assert recent_denials(client_ip=IP, now=now + datetime.timedelta(minutes=31)) == 0


def test_ipv6_denials_count_per_64():
    event_record(kind="rate_limited", decision="deny", client_ip="2001:db8:1:2::1")
    assert recent_denials(client_ip="2001:db8:1:2::ffff") == 1
    assert recent_denials(client_ip="2001:db8:1:3::1") == 0


def test_recent_denials_with_cache_down_is_zero(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    event_record(kind="rate_limited", decision="deny", client_ip=IP)  # still recorded, no crash
    assert recent_denials(client_ip=IP) == 0
    assert SecurityEvent.objects.filter(kind="rate_limited").count() == 1


def test_issuance_is_counted_not_logged_per_request(api_key):
    key, _ = api_key
    for _ in range(5):
        challenge_issue(api_key=key, client_ip=IP)
    assert challenges_issued_count(api_key=key) == 5
    sampled = SecurityEvent.objects.filter(kind="challenge_issued")
    assert sampled.count() == 1  # the first of the hour only


def test_purge_removes_only_expired_spent_challenges(api_key):
    key, _ = api_key
    now = timezone.now()
    payload = solve(challenge_issue(api_key=key, client_ip=IP, now=now)["altcha"])
    challenge_verify(api_key=key, client_ip=IP, altcha_payload=payload, now=now)
    assert challenges_purge_expired(now=now) == 0
    assert challenges_purge_expired(now=now + datetime.timedelta(seconds=121)) == 1
    assert SpentChallenge.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_of_one_solution_exactly_one_wins(api_key):
    import threading

    from django.db import connection

    key, _ = api_key
    payload = solve(challenge_issue(api_key=key, client_ip=IP)["altcha"])
    workers = 8
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def redeem() -> None:
        try:
            barrier.wait()
            challenge_verify(api_key=key, client_ip=IP, altcha_payload=payload)
            outcome = "accepted"
        except ProtectionError as error:
            outcome = error.code
        finally:
            connection.close()  # this thread's own connection
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=redeem) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] + ["challenge_replayed"] * (workers - 1)


@pytest.mark.redis
def test_denial_counters_live_in_the_shared_redis(settings):
    import redis

    event_record(kind="rate_limited", decision="deny", client_ip="192.0.2.99")
    raw = redis.Redis.from_url(settings.REDIS_URL)  # another client, as another worker
    keys = raw.keys(cache.make_key("gh:denials:*"))  # this process's (xdist workers share the db)
    assert keys and {int(raw.get(key)) for key in keys} == {1}
    assert recent_denials(client_ip="192.0.2.99") == 1
