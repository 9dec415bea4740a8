"""A key copied into a query string without its ``gh_pub_``/``gh_sec_`` prefix is
refused too (issue 23, point 5): it is as much a leak as the whole key."""

import string
from urllib.parse import quote

import pytest

from protection.base import crypto
from protection.core.events import SecurityEvent

pytestmark = pytest.mark.django_db
URL = "/api/v1/challenges"


@pytest.mark.parametrize("query", ["token={tail}", "{tail}", "a=1&k=%s", "x={tail}-suffix"])
@pytest.mark.parametrize("kind", ["publishable", "secret"])
def test_a_key_without_its_prefix_in_the_query_is_refused(client, make_api_key, query, kind):
    _, raw = make_api_key(kind=kind, required_verifications=[])
    tail = raw.split("_", 2)[2]  # "<id>_<secret>_<checksum>"
    url = f"{URL}?{query.format(tail=tail) if '%s' not in query else query % quote(tail)}"
    response = client.post(url, {}, format="json", HTTP_X_API_KEY=raw)
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "api_key_in_query"
    event = SecurityEvent.objects.get(reason="api_key_in_query")
    assert tail not in str(event.details) and tail not in event.path


def test_a_string_shaped_like_a_key_body_with_a_wrong_checksum_is_not_a_key(client, api_key):
    _, raw = api_key
    body = "A" * crypto.PUBLIC_ID_LENGTH + "_" + "b" * crypto.SECRET_LENGTH + "_"
    checksums = (
        "".join(chars) for chars in zip(*[string.digits] * crypto.CHECKSUM_LENGTH, strict=False)
    )
    fake = next(
        body + checksum
        for checksum in checksums
        if not any(crypto.parse_raw_key(f"{p}_{body}{checksum}") for p in ("gh_pub", "gh_sec"))
    )
    response = client.post(f"{URL}?ref={fake}", {}, format="json", HTTP_X_API_KEY=raw)
    assert response.status_code == 201, response.content
