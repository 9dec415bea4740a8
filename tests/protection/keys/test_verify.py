"""The per-request check: cache, timing-equal failures, last use, origins."""

import datetime

import pytest
from django.utils import timezone

from protection.base import crypto
from protection.base.exceptions import ProtectionError
from protection.core.events import SecurityEvent
from protection.keys import ApiKey, api_key_verify, origin_allowed, verified_keys

pytestmark = pytest.mark.django_db


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(verified_keys, "clock", fake)
    return fake


def deny_code(**kwargs) -> str:
    with pytest.raises(ProtectionError) as excinfo:
        api_key_verify(**kwargs)
    return excinfo.value.code


# --- cache ----------------------------------------------------------------------


def test_cache_hit_makes_no_query(api_key, clock, django_assert_num_queries):
    _, raw = api_key
    api_key_verify(raw_key=raw)  # miss: lookup (+ first last_used write)
    with django_assert_num_queries(0):
        for _ in range(5):
            api_key_verify(raw_key=raw)


def test_cache_miss_is_one_lookup(api_key, clock, django_assert_num_queries):
    key, raw = api_key
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    api_key_verify(raw_key=raw)  # a process's first key also loads the known public ids
    clock.now += 1.0
    with django_assert_num_queries(1):
        api_key_verify(raw_key=raw)


def test_revocation_elsewhere_is_seen_within_one_second(api_key, clock):
    key, raw = api_key
    api_key_verify(raw_key=raw)
    # Another process revokes: a plain UPDATE, no signal reaches this process.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now(), revoked_reason="x")
    clock.now += 0.5
    assert api_key_verify(raw_key=raw).pk == key.pk  # still cached, by design
    clock.now += 0.5
    assert deny_code(raw_key=raw) == "api_key_revoked"


def test_ttl_is_capped_at_one_second(api_key, clock, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "API_KEY_CACHE_TTL": 3600}
    assert verified_keys.ttl() == 1.0
    key, raw = api_key
    api_key_verify(raw_key=raw)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    clock.now += 1.0
    assert deny_code(raw_key=raw) == "api_key_revoked"


def test_ttl_zero_disables_the_cache(api_key, settings, django_assert_num_queries):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "API_KEY_CACHE_TTL": 0}
    key, raw = api_key
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    api_key_verify(raw_key=raw)
    with django_assert_num_queries(1):
        api_key_verify(raw_key=raw)


def test_saving_a_key_in_this_process_drops_it_from_the_cache(api_key, clock):
    key, raw = api_key
    api_key_verify(raw_key=raw)
    key.scopes = ["lookup"]
    key.save()
    assert api_key_verify(raw_key=raw).scopes == ["lookup"]


def test_callers_get_their_own_instance(api_key, clock):
    _, raw = api_key
    first = api_key_verify(raw_key=raw)
    first.name = "mutated by a caller"
    assert api_key_verify(raw_key=raw).name == "test app"


def test_cache_stores_the_hash_never_the_secret(api_key, clock):
    key, raw = api_key
    api_key_verify(raw_key=raw)
    entry = verified_keys.get(key.public_id)
    secret = crypto.parse_raw_key(raw).secret
    assert entry.api_key.secret_hash == key.secret_hash
    assert all(secret not in str(v) and raw not in str(v) for v in vars(entry.api_key).values())


# --- unknown id vs wrong secret -------------------------------------------------


def _wrong_secret(raw: str) -> str:
    kind, public_id, _ = crypto.parse_raw_key(raw)
    other, _ = crypto.generate_raw_key(kind=kind, public_id=public_id)
    return other


def test_unknown_id_and_wrong_secret_fail_alike_after_the_same_work(
    api_key, monkeypatch, django_assert_num_queries
):
    _, raw = api_key
    unknown, _ = crypto.generate_raw_key(kind="publishable", public_id=crypto.generate_public_id())
    hashed = []
    real_hash = crypto.hash_secret
    monkeypatch.setattr(crypto, "hash_secret", lambda s: hashed.append(s) or real_hash(s))
    api_key_verify(raw_key=raw)  # the genuine client's traffic keeps its key cached
    outcomes = []
    for candidate in (_wrong_secret(raw), unknown):
        hashed.clear()
        # The event insert only, each: an unknown id costs no query either
        # (it used to cost one, 1.2-1.6 ms, telling which public ids exist).
        with django_assert_num_queries(1):
            with pytest.raises(ProtectionError) as excinfo:
                api_key_verify(raw_key=candidate)
        outcomes.append((excinfo.value.code, excinfo.value.status, excinfo.value.detail))
        assert len(hashed) == 1  # the secret was hashed even for the unknown id
    assert (
        outcomes[0]
        == outcomes[1]
        == (
            "api_key_invalid",
            401,
            "The API key is not valid.",
        )
    )
    # Cached alike as well: a repeat of either costs no lookup.
    for candidate in (_wrong_secret(raw), unknown):
        with django_assert_num_queries(1):  # the event only
            with pytest.raises(ProtectionError):
                api_key_verify(raw_key=candidate)


def test_a_publishable_key_rewritten_as_secret_is_invalid(api_key):
    _, raw = api_key
    body = "gh_sec" + raw[6:-7]
    forged = f"{body}_{crypto._checksum(body)}"
    assert deny_code(raw_key=forged) == "api_key_invalid"


def test_missing_key(db):
    assert deny_code(raw_key="") == "api_key_missing"
    assert deny_code(raw_key=None) == "api_key_missing"
    assert SecurityEvent.objects.filter(reason="api_key_missing", decision="deny").count() == 2


# --- last used ------------------------------------------------------------------


def test_last_used_is_written_at_most_once_a_minute(api_key, clock, django_assert_num_queries):
    key, raw = api_key
    start = timezone.now()
    api_key_verify(raw_key=raw, now=start)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == start
    with django_assert_num_queries(0):
        for second in range(1, 60):
            api_key_verify(raw_key=raw, now=start + datetime.timedelta(seconds=second))
    clock.now += 5  # the cache refreshed many times over; still no write within the minute
    with django_assert_num_queries(1):  # the lookup, no UPDATE
        api_key_verify(raw_key=raw, now=start + datetime.timedelta(seconds=59))
    later = start + datetime.timedelta(seconds=61)
    with django_assert_num_queries(1) as captured:  # the conditional UPDATE
        api_key_verify(raw_key=raw, now=later)
    sql = captured.captured_queries[0]["sql"]
    assert sql.startswith("UPDATE") and "last_used_at" in sql.split("WHERE")[1]
    assert ApiKey.objects.get(pk=key.pk).last_used_at == later


def test_last_used_write_is_conditional_across_processes(api_key, clock):
    key, raw = api_key
    start = timezone.now()
    api_key_verify(raw_key=raw, now=start)
    # Another process wrote a newer time meanwhile; our stale snapshot must not overwrite it.
    newer = start + datetime.timedelta(seconds=90)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=newer)
    api_key_verify(raw_key=raw, now=start + datetime.timedelta(seconds=61))
    assert ApiKey.objects.get(pk=key.pk).last_used_at == newer


def test_failed_checks_do_not_count_as_use(make_api_key):
    key, raw = make_api_key(allowed_origins=["https://allowed.com"])
    deny_code(raw_key=raw, origin="https://evil.com")
    assert ApiKey.objects.get(pk=key.pk).last_used_at is None


# --- origins ----------------------------------------------------------------------

NOT_ALLOWED = [
    "null",
    "https://allowed.com.evil",
    "https://evil-allowed.com",
    "https://evilallowed.com",
    "https://sub.allowed.com",
    "http://allowed.com",
    "https://allowed.com:8443",
    "https://allowed.com/",
    "https://allowed.com/path",
    "https://allowed.com.",
    "allowed.com",
    "https://allowed.co",
    "",
    " https://allowed.com",
]


@pytest.mark.parametrize("origin", NOT_ALLOWED)
def test_only_the_exact_origin_matches(make_api_key, origin):
    key, raw = make_api_key(allowed_origins=["https://allowed.com"])
    assert not origin_allowed(key, origin)
    assert deny_code(raw_key=raw, origin=origin) == "origin_not_allowed"
    event = SecurityEvent.objects.get(reason="origin_not_allowed")
    assert event.api_key_id == key.pk and event.details == {"origin": origin}


@pytest.mark.parametrize("origin", ["https://allowed.com", "HTTPS://ALLOWED.COM"])
def test_allowed_origin_passes(make_api_key, origin):
    key, raw = make_api_key(allowed_origins=["https://allowed.com", "http://localhost:8000"])
    assert api_key_verify(raw_key=raw, origin=origin).pk == key.pk
    assert api_key_verify(raw_key=raw, origin="http://localhost:8000").pk == key.pk


def test_publishable_key_without_origins_refuses_every_browser(make_api_key):
    key, raw = make_api_key(allowed_origins=[])
    assert deny_code(raw_key=raw, origin="https://anything.example") == "origin_not_allowed"
    # Mobile apps and servers send no Origin: not origin-checked.
    assert api_key_verify(raw_key=raw, origin=None).pk == key.pk


def test_secret_key_from_a_browser_is_refused_and_recorded(make_api_key):
    key, raw = make_api_key(kind="secret", allowed_origins=["https://allowed.com"])
    for origin in ("https://allowed.com", "null"):
        assert deny_code(raw_key=raw, origin=origin) == "secret_key_in_browser"
    events = SecurityEvent.objects.filter(reason="secret_key_in_browser", api_key=key)
    assert events.count() == 2 and events.first().decision == "deny"
    assert api_key_verify(raw_key=raw).pk == key.pk  # from a server it works


def test_a_bad_secret_with_an_origin_is_just_invalid(make_api_key):
    _, raw = make_api_key(kind="secret")
    assert deny_code(raw_key=_wrong_secret(raw), origin="https://x.example") == "api_key_invalid"
