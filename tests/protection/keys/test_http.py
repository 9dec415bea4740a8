"""API keys through DRF: ApiKeyAuthentication + HasApiKeyScope on a real view."""

import logging

import pytest
from django.urls import path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from protection.authentication import ApiKeyAuthentication
from protection.base import crypto
from protection.core.events import SecurityEvent
from protection.keys import api_key_revoke
from protection.permissions import HasApiKeyScope

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


class _LookupView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKeyScope]
    required_scope = "lookup"

    def post(self, request):
        return Response({"key": request.auth.api_key.public_id})


urlpatterns = [path("api/test/lookup", _LookupView.as_view()), *project_urlpatterns]
URL = "/api/test/lookup"


def problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response


def test_valid_key_in_header(client, api_key):
    key, raw = api_key
    response = client.post(URL, {}, format="json", HTTP_X_API_KEY=raw)
    assert response.status_code == 200 and response.json() == {"key": key.public_id}


def test_missing_key_is_401_with_www_authenticate(client):
    response = problem(client.post(URL, {}, format="json"), 401, "api_key_missing")
    assert response["WWW-Authenticate"] == 'ApiKey header="X-Api-Key"'
    event = SecurityEvent.objects.get(reason="api_key_missing")
    assert event.path == URL and event.client_ip == "127.0.0.1" and event.decision == "deny"


@pytest.mark.parametrize(
    "query",
    [
        "api_key={raw}",
        "apikey={raw}",
        "key=x",
        "X-Api-Key={raw}",
        "token={raw}",
        # A key-shaped string anywhere: as a name, padded, percent-encoded.
        "foo=%20{raw}",
        "{raw}",
        "{raw}=1",
        "{raw}=x",
        "a=1&b=%67%68_pub_{tail}",
    ],
)
def test_key_in_query_string_is_refused_even_with_a_valid_header(client, api_key, query):
    _, raw = api_key
    url = f"{URL}?{query.format(raw=raw, tail=raw[len('gh_pub_') :])}"
    response = client.post(url, {}, format="json", HTTP_X_API_KEY=raw)
    problem(response, 403, "api_key_in_query")
    assert raw not in response.content.decode()
    event = SecurityEvent.objects.get(reason="api_key_in_query")
    # Never stored: only a keyed fingerprint of what was found.
    assert raw not in str(event.details) and raw not in event.path
    assert raw[len("gh_pub_") :] not in str(event.details)


@pytest.mark.parametrize("padding", ["\xa0", "\x85", "\u2003", "\t", " "])
def test_the_key_header_is_taken_byte_exact(client, api_key, padding):
    _, raw = api_key
    for padded in (raw + padding, padding + raw):
        response = client.post(URL, {}, format="json", HTTP_X_API_KEY=padded)
        problem(response, 401, "api_key_invalid")


def test_authorization_header_is_not_an_api_key(client, api_key):
    _, raw = api_key
    response = client.post(URL, {}, format="json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    problem(response, 401, "api_key_missing")


def test_scope_denied_is_403_and_recorded(client, make_api_key):
    key, raw = make_api_key(scopes=["session"])
    problem(client.post(URL, {}, format="json", HTTP_X_API_KEY=raw), 403, "scope_denied")
    event = SecurityEvent.objects.get(reason="scope_denied")
    assert event.api_key_id == key.pk and event.details == {"scope": "lookup"}
    assert event.path == URL


def test_statuses_over_http(client, make_api_key):
    revoked, revoked_raw = make_api_key()
    api_key_revoke(api_key=revoked, reason="leaked")
    problem(client.post(URL, HTTP_X_API_KEY=revoked_raw), 401, "api_key_revoked")
    expired, expired_raw = make_api_key(expires_at=timezone.now())
    problem(client.post(URL, HTTP_X_API_KEY=expired_raw), 401, "api_key_expired")
    problem(client.post(URL, HTTP_X_API_KEY="gh_pub_nonsense"), 401, "api_key_invalid")
    assert SecurityEvent.objects.get(reason="api_key_expired").api_key_id == expired.pk


def test_origins_over_http(client, make_api_key):
    _, raw = make_api_key(allowed_origins=["https://allowed.com"])
    ok = client.post(URL, HTTP_X_API_KEY=raw, HTTP_ORIGIN="https://allowed.com")
    assert ok.status_code == 200
    problem(
        client.post(URL, HTTP_X_API_KEY=raw, HTTP_ORIGIN="https://allowed.com.evil"),
        403,
        "origin_not_allowed",
    )
    _, secret_raw = make_api_key(kind="secret")
    problem(
        client.post(URL, HTTP_X_API_KEY=secret_raw, HTTP_ORIGIN="https://allowed.com"),
        403,
        "secret_key_in_browser",
    )
    assert client.post(URL, HTTP_X_API_KEY=secret_raw).status_code == 200


def test_unknown_id_and_wrong_secret_give_identical_responses(client, api_key):
    _, raw = api_key
    kind, public_id, _ = crypto.parse_raw_key(raw)
    wrong_secret, _ = crypto.generate_raw_key(kind=kind, public_id=public_id)
    unknown, _ = crypto.generate_raw_key(kind=kind, public_id=crypto.generate_public_id())
    first = client.post(URL, HTTP_X_API_KEY=wrong_secret)
    second = client.post(URL, HTTP_X_API_KEY=unknown)
    assert first.status_code == second.status_code == 401
    assert first.content == second.content
    assert first["WWW-Authenticate"] == second["WWW-Authenticate"]


def test_raw_keys_never_appear_in_events_logs_or_errors(client, make_api_key, caplog):
    caplog.set_level(logging.DEBUG)
    pub, pub_raw = make_api_key(allowed_origins=["https://allowed.com"], scopes=["session"])
    sec, sec_raw = make_api_key(kind="secret")
    kind, public_id, _ = crypto.parse_raw_key(pub_raw)
    wrong, _ = crypto.generate_raw_key(kind=kind, public_id=public_id)
    responses = [
        client.post(URL, HTTP_X_API_KEY=pub_raw),  # scope denied
        client.post(URL, HTTP_X_API_KEY=pub_raw, HTTP_ORIGIN="https://evil.com"),
        client.post(URL, HTTP_X_API_KEY=sec_raw, HTTP_ORIGIN="https://evil.com"),
        client.post(URL, HTTP_X_API_KEY=wrong),
        client.post(URL, HTTP_X_API_KEY=pub_raw[:-1]),
        client.post(f"{URL}?api_key={pub_raw}", HTTP_X_API_KEY=pub_raw),
        client.post(URL, HTTP_X_API_KEY=sec_raw),  # success
    ]
    api_key_revoke(api_key=pub, reason="test")
    responses.append(client.post(URL, HTTP_X_API_KEY=pub_raw))
    secrets = {pub_raw, sec_raw, wrong, pub_raw[:-1]}
    secrets |= {crypto.parse_raw_key(r).secret for r in (pub_raw, sec_raw, wrong)}
    texts = [r.content.decode() for r in responses] + [caplog.text]
    for event in SecurityEvent.objects.all():
        texts.append(f"{event.kind} {event.reason} {event.path} {event.details}")
    assert SecurityEvent.objects.filter(decision="deny").count() == 7
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_openapi_documents_the_api_key_header(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-Api-Key")
    assert schema["paths"][URL]["post"]["security"] == [{"ApiKeyAuth": []}]
