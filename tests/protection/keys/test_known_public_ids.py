"""An unknown key public id costs no query (issue 23, point 10).

A random unknown id used to cost a database query while a known id with a
wrong secret was answered from the cache: 1.2-1.6 ms apart, enough to tell
which public ids exist. The process now knows every public id (one query,
reloaded at most once per API_KEY_CACHE_TTL on a miss): both cost the same.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from protection.base import crypto
from protection.base.exceptions import ProtectionError
from protection.keys import api_key_create, api_key_verify, verified_keys

pytestmark = pytest.mark.django_db


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(verified_keys, "clock", fake)
    return fake


def _key_selects(queries) -> int:
    return sum('FROM "protection_apikey"' in q["sql"] for q in queries.captured_queries)


def _wrong_secret(raw: str) -> str:
    kind, public_id, _ = crypto.parse_raw_key(raw)
    return crypto.generate_raw_key(kind=kind, public_id=public_id)[0]


def test_random_unknown_ids_cost_no_query_like_a_known_id_with_a_wrong_secret(api_key, clock):
    _, raw = api_key
    api_key_verify(raw_key=raw)  # the genuine app's traffic: its key and the ids are loaded
    for candidate in [_wrong_secret(raw)] * 5 + [
        crypto.generate_raw_key(kind="publishable", public_id=crypto.generate_public_id())[0]
        for _ in range(20)
    ]:
        with CaptureQueriesContext(connection) as queries:
            with pytest.raises(ProtectionError) as refused:
                api_key_verify(raw_key=candidate)
        assert refused.value.code == "api_key_invalid"
        assert _key_selects(queries) == 0


def test_the_ids_reload_at_most_once_per_ttl_and_a_new_key_is_seen(api_key, clock):
    _, raw = api_key
    api_key_verify(raw_key=raw)
    clock.now += 1.0  # the known ids are a second old
    unknown = [
        crypto.generate_raw_key(kind="publishable", public_id=crypto.generate_public_id())[0]
        for _ in range(10)
    ]
    with CaptureQueriesContext(connection) as queries:
        for candidate in unknown:
            with pytest.raises(ProtectionError):
                api_key_verify(raw_key=candidate)
    assert _key_selects(queries) == 1  # one reload for ten unknown ids
    _new, new_raw = api_key_create(name="created here")  # this process adds its own
    assert api_key_verify(raw_key=new_raw).name == "created here"
