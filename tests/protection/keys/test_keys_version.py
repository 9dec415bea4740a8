"""A revoked key is refused at its next request on every worker (issue 23, point 8).

Revocation used to take up to a second to reach other processes (each kept
the key cached that long): 119-259 requests were admitted after the commit.
Every key change now publishes a keys version, read in the request's one
round trip; a process that sees it change reads the request's key again.
"Another process" is played here by a plain UPDATE (no signal reaches this
process) and the version it would publish.
"""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from protection.keys import KEYS_VERSION_KEY, ApiKey, api_key_revoke

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
URL = "/api/v1/challenges"


def _challenge(client, raw):
    return client.post(URL, HTTP_X_API_KEY=raw)


def _key_queries(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if 'FROM "protection_apikey"' in q["sql"]]


def test_a_key_revoked_elsewhere_is_refused_at_the_next_request(client, make_api_key):
    key, raw = make_api_key(required_verifications=[])
    assert _challenge(client, raw).status_code == 201  # the key is cached now
    # Another process revokes the key and publishes the change.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now(), revoked_reason="leaked")
    cache.set(KEYS_VERSION_KEY, 4242, timeout=None)
    refused = _challenge(client, raw)
    assert refused.status_code == 401, refused.content
    assert refused.json()["code"] == "api_key_revoked"
    assert refused["WWW-Authenticate"] == 'ApiKey header="X-Api-Key"'
    assert _challenge(client, raw).json()["code"] == "api_key_revoked"


def test_an_unchanged_version_costs_no_key_query(client, make_api_key):
    _key, raw = make_api_key(required_verifications=[])
    assert _challenge(client, raw).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert _challenge(client, raw).status_code == 201
    assert _key_queries(queries) == []
    cache.set(KEYS_VERSION_KEY, 99, timeout=None)  # some other key changed
    with CaptureQueriesContext(connection) as queries:
        assert _challenge(client, raw).status_code == 201
    assert len(_key_queries(queries)) == 1  # this request's key, read again once


def test_a_revocation_publishes_a_new_version_once_committed(
    make_api_key, django_capture_on_commit_callbacks
):
    key, _ = make_api_key()
    before = cache.get(KEYS_VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api_key_revoke(api_key=key, reason="leaked")
    assert cache.get(KEYS_VERSION_KEY) == before  # not before the commit
    for callback in callbacks:
        callback()
    assert cache.get(KEYS_VERSION_KEY) != before
