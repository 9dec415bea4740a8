"""The OpenAPI document says what the new evidence looks like on the wire."""

import re

import pytest

from tests.support.schema import schema_document

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def document(django_db_blocker):
    return schema_document(django_db_blocker)


def codes(response):
    return set(re.findall(r"- `([a-z_]+)`", response["description"]))


def test_session_start_documents_captcha_tokens_and_the_private_token(document):
    operation = document["paths"]["/api/v1/sessions"]["post"]
    body = document["components"]["schemas"]["SessionCreateRequest"]["properties"]
    for name, longest in (("turnstile_token", 2048), ("hcaptcha_token", 8192)):
        # A token up to the provider's length, or blank (not sent).
        assert [branch["maxLength"] for branch in body[name]["oneOf"]] == [longest, 0]
    assert {"pat_required", "pat_invalid", "pat_replayed"} <= codes(operation["responses"]["401"])
    assert "captcha_failed" in codes(operation["responses"]["403"])
    assert {"captcha_unavailable", "pat_unavailable"} <= codes(operation["responses"]["503"])
    header = operation["responses"]["401"]["headers"]["WWW-Authenticate"]["description"]
    assert 'PrivateToken challenge="' in header and "token-key=" in header
    scheme = document["components"]["securitySchemes"]["PrivateTokenAuth"]
    assert (scheme["in"], scheme["name"]) == ("header", "Authorization")
    assert "PrivateToken token=" in scheme["description"]


def test_the_challenge_documents_the_site_keys_and_the_action(document):
    challenge = document["components"]["schemas"]["Challenge"]
    for name in ("turnstile_site_key", "hcaptcha_site_key", "turnstile_action"):
        assert challenge["properties"][name]["nullable"] is True
        assert name in challenge["required"]
