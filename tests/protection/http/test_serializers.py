"""protection.http.serializers.StrictSerializer: exactly the fields it declares."""

from rest_framework import serializers

from protection.http.serializers import StrictSerializer


class Lookup(StrictSerializer):
    exactly_one_of = ("email", "phone")
    email = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)


def _errors(data):
    serializer = Lookup(data=data)
    assert not serializer.is_valid()
    return serializer.errors


def test_one_of_the_two_is_valid():
    assert Lookup(data={"email": "a@example.com"}).is_valid()
    assert Lookup(data={"phone": "+12015550123"}).is_valid()


def test_both_or_neither_is_refused():
    for data in ({}, {"email": "a@example.com", "phone": "+12015550123"}):
        errors = _errors(data)
        assert errors["non_field_errors"][0].code == "one_identifier"


def test_unknown_fields_are_refused_by_name():
    errors = _errors({"email": "a@example.com", "name": "x"})
    assert errors["name"][0].code == "unknown"


def test_a_body_that_is_not_an_object_is_refused_not_a_crash():
    for data in (["email"], "email", 3, None):
        assert not Lookup(data=data).is_valid()


def test_a_number_where_the_document_says_string_is_refused(client, make_api_key):
    # Found by schemathesis: {"altcha": -66356688503136} was accepted by a key
    # that needs no proof of work (DRF's CharField turns numbers into text).
    _key, raw = make_api_key(required_verifications=[])
    for body in ({"altcha": -66356688503136}, {"device_id": 12345}, {"recaptcha_token": True}):
        response = client.post("/api/v1/sessions", body, format="json", HTTP_X_API_KEY=raw)
        assert response.status_code == 400, body
        assert response.json()["code"] == "invalid_request"


def test_a_malformed_device_header_is_refused_even_when_the_body_names_a_device(
    client, make_api_key
):
    # Found by schemathesis: the body's device_id wins, but the header must
    # still match what the document says.
    _key, raw = make_api_key(required_verifications=[])
    response = client.post(
        "/api/v1/sessions",
        {"device_id": "phone-1"},
        format="json",
        HTTP_X_API_KEY=raw,
        HTTP_X_DEVICE_ID="has spaces",
    )
    assert response.status_code == 400
